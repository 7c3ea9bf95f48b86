"""Logistic regression of a cardiovascular event on statin use, age and sex.

Writes the fitted model (sensitive: it could memorise individuals) and
aggregate metrics (releasable after output checking).
"""
import os
import pickle

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

seed = int(os.environ.get("SEED", "1"))
cohort = pd.read_csv("output/cohort.csv")
X = pd.DataFrame({
    "statin": cohort["statin"].astype(int),
    "age_per_10y": (cohort["age"] - 60) / 10.0,
    "male": (cohort["sex"] == "M").astype(int),
    "log_follow_up": np.log1p(cohort["follow_up_days"]),
})
y = cohort["cv_event"]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, random_state=seed, stratify=y)
model = LogisticRegression(max_iter=1000).fit(X_train, y_train)
auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])

os.makedirs("output", exist_ok=True)
with open("output/model.pkl", "wb") as f:
    pickle.dump(model, f)
rows = [("auc_test", round(auc, 3)), ("n_train", len(X_train)), ("n_test", len(X_test))]
for name, coef in zip(X.columns, model.coef_[0]):
    rows.append((f"odds_ratio_{name}", round(float(np.exp(coef)), 3)))
pd.DataFrame(rows, columns=["metric", "value"]).to_csv("output/metrics.csv", index=False)
print(f"AUC {auc:.3f}; statin odds ratio {np.exp(model.coef_[0][0]):.2f}")
