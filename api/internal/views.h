#pragma once

// JSON views of domain values, as the API prints them. Times are RFC 3339
// UTC; absent optional values are null.

#include <nlohmann/json.hpp>

#include "core/types.h"

namespace sluss::api::internal {

nlohmann::json View(const core::Project& p);
nlohmann::json View(const core::Run& r);
nlohmann::json View(const core::Job& j);
nlohmann::json View(const core::JobEvent& e);
nlohmann::json View(const core::Token& t);
nlohmann::json View(const core::Image& i);
nlohmann::json View(const core::Node& n);

}  // namespace sluss::api::internal
