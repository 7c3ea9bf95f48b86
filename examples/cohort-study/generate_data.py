#!/usr/bin/env python3
"""Writes a synthetic prescriptions dataset: one CSV of N rows, fixed seed.

Every value is made up. The shape resembles a national prescription
register joined to hospital events: one row per dispensing, with the
patient's age, sex and region, the drug (ATC code), and the follow-up of a
cardiovascular event.

    generate_data.py OUT_DIR [--rows 100000] [--seed 1]

Standard library only, so it runs on any Python 3.
"""
import argparse
import csv
import os
import random

DRUGS = [
    ("C10AA05", "atorvastatin", 0.30),
    ("C10AA01", "simvastatin", 0.15),
    ("C09AA05", "ramipril", 0.15),
    ("A10BA02", "metformin", 0.15),
    ("N02BE01", "paracetamol", 0.25),
]
REGIONS = ["north", "south", "east", "west", "capital"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    path = os.path.join(args.out_dir, "prescriptions.csv")
    tmp = path + ".tmp"
    patients = max(1, args.rows // 3)
    # Per-patient attributes, drawn once.
    people = []
    for pid in range(1, patients + 1):
        age = max(18, min(95, int(rng.gauss(62, 12))))
        sex = rng.choice("FM")
        region = rng.choice(REGIONS)
        statin = rng.random() < 0.45
        # Yearly event hazard: rises with age, higher for men, lower on statins.
        hazard = 0.02 * (1.045 ** (age - 60)) * (1.3 if sex == "M" else 1.0)
        hazard *= 0.7 if statin else 1.0
        follow_up = rng.randint(180, 5 * 365)
        t_event = int(rng.expovariate(hazard / 365.0))
        event = 1 if t_event < follow_up else 0
        people.append((pid, age, sex, region, statin, max(1, min(t_event, follow_up)), event))

    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["patient_id", "age", "sex", "region", "atc", "drug",
                    "dispensed_day", "days_supply", "follow_up_days", "cv_event"])
        for i in range(args.rows):
            pid, age, sex, region, statin, fu, event = people[i % patients]
            # A statin user's first dispensing is a statin; later ones any drug.
            if statin:
                choices = DRUGS[:2] if i < patients else DRUGS
            else:
                choices = DRUGS[2:]
            weights = [d[2] for d in choices]
            atc, drug, _ = rng.choices(choices, weights)[0]
            w.writerow([f"P{pid:07d}", age, sex, region, atc, drug,
                        rng.randint(0, 365), rng.choice([30, 60, 90]), fu, event])
    os.replace(tmp, path)
    print(f"wrote {args.rows} rows for {patients} patients to {path}")


if __name__ == "__main__":
    main()
