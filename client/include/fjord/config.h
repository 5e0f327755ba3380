// Client configuration: Kafka-style properties ("linger.ms" -> "5"). A
// Producer, Consumer or Admin is built from a Properties map; every name it
// does not know and every value it cannot use is refused at that point with
// a kInvalidArgument status naming the property. The names, defaults and
// meanings are in client/README.md. A value type; thread-compatible.
#ifndef FJORD_CLIENT_INCLUDE_FJORD_CONFIG_H_
#define FJORD_CLIENT_INCLUDE_FJORD_CONFIG_H_

#include <functional>
#include <map>
#include <string>

namespace fjord {

using Properties = std::map<std::string, std::string, std::less<>>;

}  // namespace fjord

#endif  // FJORD_CLIENT_INCLUDE_FJORD_CONFIG_H_
