# Data for the shell integration tests, as a data steward provides it.
# permit_setup PROJECT PERSON DIR: registers DIR as dataset prescriptions
# version 2026-06 (waiting until it is hashed) and grants PERSON the permit
# P-1 for PROJECT. Needs SLUSS and an admin's SLUSS_TOKEN (to make the
# steward's token).
permit_setup() {
  local steward
  steward=$("$SLUSS" token create --user steward@example.org --role steward --name test 2>/dev/null)
  SLUSS_TOKEN=$steward "$SLUSS" dataset add prescriptions 2026-06 "$3" >/dev/null 2>&1 || fail "dataset add $3"
  SLUSS_TOKEN=$steward "$SLUSS" permit grant P-1 --project "$1" --datasets prescriptions \
    --persons "$2" --purpose "test study" --from 2026-01-01 --until 2099-01-01 >/dev/null \
    || fail "permit grant"
}
