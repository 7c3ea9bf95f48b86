// The names sluss.yaml may use (actions, images, datasets and their
// versions, environment variables): what each may be made of and how long.
#pragma once

#include <string_view>

namespace sluss::core::internal {

bool IsActionName(std::string_view s);   // [A-Za-z0-9][A-Za-z0-9_-]{0,63}
bool IsImageName(std::string_view s);    // [A-Za-z0-9][A-Za-z0-9._:-]{0,127}
bool IsDatasetName(std::string_view s);  // [a-z0-9][a-z0-9_-]{0,63}
bool IsVersionName(std::string_view s);  // [A-Za-z0-9][A-Za-z0-9._-]{0,63}
bool IsEnvName(std::string_view s);      // [A-Za-z_][A-Za-z0-9_]{0,127}

}  // namespace sluss::core::internal
