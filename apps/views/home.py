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
distributed by PhysioNet; a 12-lead record is read through the leads the probes were fitted on. Uploaded
files are analysed in a temporary folder and deleted straight after.
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
st.page_link("views/sar.py", label="SAR: target chips", icon=":material/radar:")
st.markdown(
    """
- **Classes**: the top three of ten MSTAR vehicle classes for a SAR chip (any raster GDAL reads: GeoTIFF,
  complex or real, JPEG, PNG), from a probe fitted on MSTAR 17° chips; a warning where the chip is mostly blank
  or unlike every training chip, as the probe always names one of its ten vehicles.
- **Targets and map**: the chip in dB, the multi-scale ratio-of-averages gradients SAR-JEPA learns to predict,
  and where the chip falls among the training chips.
"""
)
st.page_link("views/lidar.py", label="LiDAR: scans in bird's-eye view", icon=":material/view_in_ar:")
st.markdown(
    """
- **Bird's-eye view**: a point cloud (KITTI `.bin`, `.npy`, PCD, PLY or LAS) voxelised and encoded by a sparse
  3-D backbone into a grid of cells, shown as occupancy, as embedding colours and in 3-D.
- **Foreground**: a per-cell foreground probability from a probe fitted on labelled KITTI cells; read it as a
  ranking of cells, not as detections. The bundled model reads a vehicle-mounted scanner's range.

Research software: not for diagnosis or for decisions about people or targets.
"""
)
