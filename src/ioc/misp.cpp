// MISP event exports: file hash and file-name attributes are imported; see
// ioc_formats.hpp for what is and is not.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ioc/import_common.hpp"
#include "iocsweep/ioc_formats.hpp"

namespace iocsweep {
namespace {

using ioc_import::Json;

std::optional<DigestKind> digest_for_type(std::string_view type) {
  if (type == "md5") return DigestKind::kMd5;
  if (type == "sha1") return DigestKind::kSha1;
  if (type == "sha256") return DigestKind::kSha256;
  return std::nullopt;
}

// MISP writes flags as JSON booleans, but older exports and hand-made files
// use 0/1 and "0"/"1".
std::optional<bool> flag_value(const Json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number_integer()) return value.get<std::int64_t>() != 0;
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (s == "1" || s == "true" || s == "True") return true;
    if (s == "0" || s == "false" || s == "False" || s.empty()) return false;
  }
  return std::nullopt;
}

std::string_view trim_blanks(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

class MispImporter {
 public:
  MispImporter(const std::string& name, ImportedIocs& out) : name_(name), out_(out) {}

  Status event(const Json& event, const std::string& path) {
    if (!event.is_object()) return Error{name_ + ": " + path + " is not a JSON object"};
    const std::string* info = ioc_import::string_member(event, "info");
    const std::string event_info = info != nullptr ? ioc_import::one_line(*info) : std::string();
    if (const Json* attributes = ioc_import::member(event, "Attribute")) {
      if (auto s = attribute_list(*attributes, event_info, path + ".Attribute"); !s) return s;
    }
    if (const Json* objects = ioc_import::member(event, "Object")) {
      if (!objects->is_array()) return Error{name_ + ": " + path + ".Object is not an array"};
      for (std::size_t i = 0; i < objects->size(); ++i) {
        const Json& object = (*objects)[i];
        const std::string object_path = path + ".Object[" + std::to_string(i) + "]";
        if (!object.is_object()) return Error{name_ + ": " + object_path + " is not a JSON object"};
        auto context = object_context(object, object_path);
        if (!context) return context.error();
        if (const Json* attributes = ioc_import::member(object, "Attribute")) {
          if (auto s = attribute_list(*attributes, event_info, object_path + ".Attribute", &*context); !s) return s;
        }
      }
    }
    return Ok{};
  }

 private:
  // What an Object tells about its attributes.
  struct ObjectContext {
    bool deleted = false;
    bool is_file = false;  // a "file" Object: its attributes describe one file
    /// The file's size, from the Object's one usable size-in-bytes
    /// attribute (`size_attribute`); else why there is none.
    std::optional<std::uint64_t> size;
    const Json* size_attribute = nullptr;
    std::string no_size_why;
  };

  Result<ObjectContext> object_context(const Json& object, const std::string& path) {
    using namespace ioc_import;
    ObjectContext context;
    const std::string* uuid = string_member(object, "uuid");
    const std::string label = uuid != nullptr ? "object " + ioc_import::one_line(*uuid) : path;
    if (const Json* deleted = member(object, "deleted")) {
      const auto flag = flag_value(*deleted);
      if (!flag) return Error{name_ + ": " + label + ": \"deleted\" is not a boolean"};
      context.deleted = *flag;
    }
    const std::string* object_name = string_member(object, "name");
    context.is_file = object_name != nullptr && *object_name == "file";
    const Json* attributes = member(object, "Attribute");
    if (context.deleted || !context.is_file || attributes == nullptr || !attributes->is_array()) return context;
    // size-in-bytes is a fact about the file, not meant for detection on its
    // own: its to_ids is not asked; a deleted one does not count.
    std::vector<const Json*> sizes;
    for (std::size_t i = 0; i < attributes->size(); ++i) {
      const Json& attribute = (*attributes)[i];
      const std::string* type = string_member(attribute, "type");
      if (type == nullptr || *type != "size-in-bytes") continue;
      if (const Json* deleted = member(attribute, "deleted")) {
        const auto flag = flag_value(*deleted);
        if (!flag) {
          const std::string* attribute_uuid = string_member(attribute, "uuid");
          return Error{name_ + ": " +
                       (attribute_uuid != nullptr ? "attribute " + ioc_import::one_line(*attribute_uuid)
                                                  : path + ".Attribute[" + std::to_string(i) + "]") +
                       ": \"deleted\" is not a boolean"};
        }
        if (*flag) continue;
      }
      sizes.push_back(&attribute);
    }
    if (sizes.size() > 1) {
      context.no_size_why = "the object has " + std::to_string(sizes.size()) + " size-in-bytes values";
    } else if (sizes.size() == 1) {
      const std::string* value = string_member(*sizes.front(), "value");
      context.size = value != nullptr ? parse_byte_count(trim_blanks(*value)) : std::nullopt;
      if (context.size) {
        context.size_attribute = sizes.front();
      } else {
        context.no_size_why = "not a whole number of bytes";
      }
    }
    return context;
  }

  Status attribute_list(const Json& attributes, const std::string& event_info, const std::string& path,
                        const ObjectContext* context = nullptr) {
    if (!attributes.is_array()) return Error{name_ + ": " + path + " is not an array"};
    for (std::size_t i = 0; i < attributes.size(); ++i) {
      if (auto s = attribute(attributes[i], event_info, path + "[" + std::to_string(i) + "]", context); !s) return s;
    }
    return Ok{};
  }

  Status attribute(const Json& attribute, const std::string& event_info, const std::string& path,
                   const ObjectContext* context) {
    using namespace ioc_import;
    if (!attribute.is_object()) return Error{name_ + ": " + path + " is not a JSON object"};
    const std::string* uuid = string_member(attribute, "uuid");
    const std::string label = uuid != nullptr ? "attribute " + ioc_import::one_line(*uuid) : path;
    const auto fail = [&](const std::string& why) { return Error{name_ + ": " + label + ": " + why}; };
    const std::string* type = string_member(attribute, "type");
    if (type == nullptr) return fail("no \"type\" string");
    const std::string* value = string_member(attribute, "value");
    if (value == nullptr) return fail("no \"value\" string");
    // An attribute marked deleted: counted, not imported. A "deleted" that
    // is not a boolean is an error (nothing when it is absent).
    const auto deleted = [&]() -> Result<bool> {
      const Json* flag_json = member(attribute, "deleted");
      if (flag_json == nullptr) return false;
      const auto flag = flag_value(*flag_json);
      if (!flag) return fail("\"deleted\" is not a boolean");
      if (*flag) add_unsupported(out_, label + ": deleted, not imported");
      return *flag;
    };

    if (context != nullptr && context->deleted) {
      add_unsupported(out_, label + ": in a deleted object, not imported");
      return Ok{};
    }
    if (context != nullptr && context->is_file && *type == "size-in-bytes") {
      if (&attribute == context->size_attribute) return Ok{};  // given to the object's hashes
      {
        Result<bool> gone = deleted();
        if (!gone) return gone.error();
        if (*gone) return Ok{};
      }
      add_unsupported(out_,
                      label + ": size-in-bytes " + quoted(*value, 40) + " not used (" + context->no_size_why + ")");
      return Ok{};
    }

    const bool composite = type->starts_with("filename|");
    const std::optional<DigestKind> digest = digest_for_type(composite ? type->substr(9) : *type);
    if (!digest && *type != "filename") {
      add_unsupported(out_, label + ": type " + quoted(*type, 40) + " not supported");
      return Ok{};
    }
    {
      Result<bool> gone = deleted();
      if (!gone) return gone.error();
      if (*gone) return Ok{};
    }
    if (const Json* to_ids = member(attribute, "to_ids")) {
      const auto flag = flag_value(*to_ids);
      if (!flag) return fail("\"to_ids\" is not a boolean");
      if (!*flag) {
        add_unsupported(out_, label + ": to_ids is false (not for detection), not imported");
        return Ok{};
      }
    }

    std::string description = event_info;
    if (const std::string* comment = string_member(attribute, "comment"); comment != nullptr && !comment->empty()) {
      description += (description.empty() ? "" : ": ") + ioc_import::one_line(*comment);
    }
    description += (description.empty() ? "" : " ") + std::string("(") + label + ")";

    std::string_view file_name;
    std::string_view hash;
    if (composite) {
      const std::size_t bar = value->rfind('|');
      if (bar == std::string::npos) return fail("value of a " + *type + " attribute has no '|'");
      file_name = std::string_view(*value).substr(0, bar);
      hash = trim_blanks(std::string_view(*value).substr(bar + 1));
    } else if (digest) {
      hash = trim_blanks(*value);
    } else {
      file_name = *value;
    }
    if (composite || !digest) {
      if (auto problem = file_name_problem(file_name)) return fail(*problem);
    }
    if (digest) {
      if (auto problem = hash_value_problem(hash, *digest)) return fail(*problem);
    }
    if (composite || !digest)
      out_.filenames.push_back(make_filename_ioc(file_name, kDefaultFilenameScore, description, name_));
    if (digest) {
      out_.hashes.push_back(make_hash_ioc(*digest, hash, kDefaultHashScore, description, name_));
      if (context != nullptr) out_.hashes.back().size = context->size;
    }
    return Ok{};
  }

  const std::string& name_;
  ImportedIocs& out_;
};

}  // namespace

Result<ImportedIocs> parse_misp_event(std::string_view json_text, const std::string& name) {
  using namespace ioc_import;
  auto document = parse_json_document(json_text, name);
  if (!document) return document.error();
  const Json& root = *document;
  ImportedIocs out;
  MispImporter importer(name, out);
  // The three shapes MISP hands out: one event, a restSearch answer, and an
  // array of events.
  const Json* events = nullptr;
  std::string events_path;
  if (const Json* event = member(root, "Event")) {
    if (auto s = importer.event(*event, "Event"); !s) return s.error();
    return out;
  }
  if (const Json* response = member(root, "response")) {
    events = response;
    events_path = "response";
  } else if (root.is_array()) {
    events = &root;
  }
  if (events == nullptr || !events->is_array()) {
    return Error{name +
                 ": not a MISP event export (expected {\"Event\": ...}, {\"response\": [{\"Event\": ...}]} or "
                 "[{\"Event\": ...}])"};
  }
  for (std::size_t i = 0; i < events->size(); ++i) {
    const std::string path = events_path + "[" + std::to_string(i) + "]";
    const Json* event = member((*events)[i], "Event");
    if (event == nullptr) return Error{name + ": " + path + " has no \"Event\""};
    if (auto s = importer.event(*event, path + ".Event"); !s) return s.error();
  }
  return out;
}

IocFileFormat detect_ioc_format(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || (text[first] != '{' && text[first] != '[')) return IocFileFormat::kLokiHash;
  auto document = ioc_import::parse_json_document(text, "");
  if (!document) {
    // Broken JSON still goes to a JSON parser, which says what is wrong.
    return text.find("\"Event\"") != std::string_view::npos ? IocFileFormat::kMispEvent : IocFileFormat::kStixBundle;
  }
  const Json& root = *document;
  if (const std::string* type = ioc_import::string_member(root, "type"); type != nullptr && *type == "bundle") {
    return IocFileFormat::kStixBundle;
  }
  if (ioc_import::member(root, "Event") != nullptr || ioc_import::member(root, "response") != nullptr) {
    return IocFileFormat::kMispEvent;
  }
  if (root.is_array()) {
    for (const Json& element : root) {
      if (ioc_import::member(element, "Event") != nullptr) return IocFileFormat::kMispEvent;
    }
  }
  return IocFileFormat::kStixBundle;
}

}  // namespace iocsweep
