"""Home: what the suite is and where to go."""

import streamlit as st

st.title("JEPA suite")
st.markdown(
    """
Self-supervised **joint-embedding predictive architectures** (JEPA) for medical signals and remote
sensing. An encoder learns from unlabelled recordings by predicting the embeddings of masked parts
of a signal from the visible parts; small linear probes on its frozen embeddings then solve
labelled tasks.

This app runs the bundled models on your own data or on the bundled samples, on the CPU.
"""
)
st.page_link("views/ecg.py", label="ECG: heartbeat classes and rhythm", icon=":material/monitor_heart:")
st.markdown(
    """
- **Beats**: every heartbeat classified into the AAMI classes N (normal), S (supraventricular
  ectopic), V (ventricular ectopic) and F (fusion), from a probe fitted on MIT-BIH Arrhythmia records.
- **Rhythm**: the record as normal sinus rhythm, atrial fibrillation, other rhythm or too noisy,
  from a probe fitted on PhysioNet/CinC Challenge 2017 records.
- **Map**: where the record's beats fall among labelled reference beats in the encoder's embedding space.

Records are WFDB files (`.hea` with `.dat` or `.mat`, optionally `.atr` beat annotations), as
distributed by PhysioNet. Uploaded files are analysed in a temporary folder and deleted straight after.
"""
)
st.page_link("views/eeg.py", label="EEG: rest or mental arithmetic", icon=":material/neurology:")
st.markdown(
    """
- **Traces**: the 10-20 channels of an EDF, EDF+, BDF or MNE `.fif` recording, filtered, in microvolts.
- **Rest or task**: every 4 s window as resting or doing mental arithmetic, from a probe fitted on
  PhysioNet's *EEG During Mental Arithmetic Tasks* subjects 0-6, with the probability over time.
- **Map**: where the recording's windows fall among labelled reference windows.
"""
)
