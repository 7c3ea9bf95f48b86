# Table 1 (baseline characteristics by exposure) and a Cox model of time to
# a cardiovascular event. Counts are rounded to 5 and cells under 10
# suppressed, so that both files can pass output checking.
library(survival)

cohort <- read.csv("output/cohort.csv")
cohort$statin <- cohort$statin == "True" | cohort$statin == TRUE

round5 <- function(n) ifelse(n < 10, NA, 5 * round(n / 5))
by_group <- function(d) {
  data.frame(
    n = round5(nrow(d)),
    mean_age = round(mean(d$age), 1),
    pct_male = round(100 * mean(d$sex == "M"), 1),
    events = round5(sum(d$cv_event))
  )
}
t1 <- rbind(
  cbind(group = "statin", by_group(cohort[cohort$statin, ])),
  cbind(group = "no statin", by_group(cohort[!cohort$statin, ]))
)
dir.create("output", showWarnings = FALSE)
write.csv(t1, "output/table1.csv", row.names = FALSE)

fit <- coxph(Surv(follow_up_days, cv_event) ~ statin + age + sex, data = cohort)
s <- summary(fit)$conf.int
hr <- data.frame(term = rownames(s), hazard_ratio = round(s[, 1], 3),
                 lower_95 = round(s[, 3], 3), upper_95 = round(s[, 4], 3))
write.csv(hr, "output/survival.csv", row.names = FALSE)
print(hr)
