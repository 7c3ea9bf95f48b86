"""Builds the study cohort: one row per patient, exposed = any statin.

Reads /data/prescriptions (read-only inside the sandbox) and writes
output/cohort.csv, which stays inside: it is person-level data.
"""
import os
import sys

import pandas as pd

DATA = sys.argv[1] if len(sys.argv) > 1 else "/data/prescriptions"
STATINS = {"C10AA01", "C10AA05"}

rx = pd.read_csv(os.path.join(DATA, "prescriptions.csv"))
rx["statin"] = rx["atc"].isin(STATINS)
cohort = rx.groupby("patient_id").agg(
    age=("age", "first"),
    sex=("sex", "first"),
    region=("region", "first"),
    statin=("statin", "max"),
    n_dispensings=("atc", "size"),
    follow_up_days=("follow_up_days", "first"),
    cv_event=("cv_event", "first"),
).reset_index()
cohort = cohort[cohort["age"] >= 40]
os.makedirs("output", exist_ok=True)
cohort.to_csv("output/cohort.csv", index=False)
print(f"cohort: {len(cohort)} patients, {int(cohort['statin'].sum())} on statins")
