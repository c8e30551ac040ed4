"""The JEPA suite app: ``streamlit run apps/app.py`` (from anywhere; paths resolve from this file).

The pages live in ``apps/views/``, not ``apps/pages/``: a folder named ``pages`` next to this
script switches Streamlit to its v1 multipage mode, which runs the page files without this
script's ``st.navigation`` (no titles, no layout, other URLs).
"""

from pathlib import Path

import streamlit as st

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="JEPA suite", page_icon=":material/monitor_heart:", layout="wide")
navigation = st.navigation(
    [
        st.Page(VIEWS / "home.py", title="Home", icon=":material/home:", default=True),
        st.Page(VIEWS / "ecg.py", title="ECG analysis", icon=":material/monitor_heart:", url_path="ecg"),
        st.Page(VIEWS / "eeg.py", title="EEG analysis", icon=":material/neurology:", url_path="eeg"),
        st.Page(VIEWS / "sar.py", title="SAR target chips", icon=":material/radar:", url_path="sar"),
        st.Page(VIEWS / "lidar.py", title="LiDAR scans", icon=":material/view_in_ar:", url_path="lidar"),
    ]
)
navigation.run()
