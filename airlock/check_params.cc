#include "airlock/check_params.h"

#include <nlohmann/json.hpp>

namespace sluss::airlock {

nlohmann::json ToJson(const CheckParams& p) {
  return {{"allowed_types", p.allowed_types},     {"max_file_bytes", p.max_file_bytes},
          {"threshold", p.threshold},             {"zeros_disclosive", p.zeros_disclosive},
          {"max_cell_bytes", p.max_cell_bytes},   {"max_columns", p.max_columns}};
}

}  // namespace sluss::airlock
