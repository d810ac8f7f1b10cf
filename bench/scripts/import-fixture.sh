# shellcheck shell=bash
# Sourced by bench/scripts/shipped.sh and bench/scripts/import.sh: the import fixture, demo-churn's 12 columns.
# write_import_csv FILE ROWS writes the rows (seeded, so every run writes the same file); IMPORT_COLUMNS is the
# columns array a dataset for them is created with.
IMPORT_COLUMNS='[
  {"name":"tenure_months","type":"numeric"},{"name":"monthly_charges","type":"numeric"},{"name":"total_charges","type":"numeric"},
  {"name":"support_calls","type":"numeric"},{"name":"age","type":"numeric"},{"name":"data_usage_gb","type":"numeric"},
  {"name":"contract","type":"categorical"},{"name":"payment_method","type":"categorical"},{"name":"paperless_billing","type":"boolean"},
  {"name":"has_partner","type":"boolean"},{"name":"feedback","type":"text"},{"name":"churned","type":"boolean","role":"label"}]'
write_import_csv() {
  awk -v n="$2" 'BEGIN {srand(7); print "tenure_months,monthly_charges,total_charges,support_calls,age,data_usage_gb,contract,payment_method,paperless_billing,has_partner,feedback,churned";
    split("month-to-month,one-year,two-year", c, ","); split("electronic-check,credit-card,bank-transfer", p, ",");
    for (i = 0; i < n; i++) { t = int(rand() * 72); m = 20 + rand() * 100;
      printf "%d,%.2f,%.2f,%d,%d,%.1f,%s,%s,%s,%s,%s,%s\n", t, m, t * m, int(rand() * 6), 18 + int(rand() * 60), rand() * 50,
        c[1 + int(rand() * 3)], p[1 + int(rand() * 3)], rand() < 0.5 ? "true" : "false", rand() < 0.5 ? "true" : "false",
        rand() < 0.1 ? "too expensive" : "", (t < 12 && m > 70) ? "true" : "false" } }' > "$1"
}
# import_rows URL KEY CSV NAME: creates a dataset of IMPORT_COLUMNS, posts the file as CSV, prints "ROWS_PER_S DATASET_ID".
import_rows() {
  local ds t0 rows
  ds=$(curl -sf -H "Authorization: Bearer $2" -H "Content-Type: application/json" "$1/api/v1/datasets" \
    -d "{\"name\":\"$4\",\"columns\":$IMPORT_COLUMNS}" | jq .id)
  rows=$(( $(wc -l < "$3") - 1 ))
  t0=$(date +%s%N)
  curl -sf -H "Authorization: Bearer $2" -H "Content-Type: text/csv" --data-binary @"$3" \
    "$1/api/v1/datasets/$ds/rows?format=csv" | jq -e ".rowsAccepted == $rows" > /dev/null
  echo "$(jq -n "$rows * 1e9 / ($(date +%s%N) - $t0) | floor") $ds"
}
