#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "iocsweep/report.hpp"
#include "report/model.hpp"
#include "report/syslog_sender.hpp"

namespace iocsweep {
namespace {

// RFC 5424 PRI severities.
constexpr int kCritical = 2, kWarning = 4, kNotice = 5, kInformational = 6;
// Private enterprise number 32473 is the one RFC 5612 reserves for
// documentation and examples: iocsweep has no registered number, and an
// SD-ID without "@" must be IANA-registered.
constexpr const char* kSdId = "iocsweep@32473";
// A datagram larger than this is refused by some daemons: a message (header,
// structured data and MSG) stays at or below it.
constexpr std::size_t kMaxMessage = 16 * 1024;
// Longest escaped value of one path, member chain or match parameter; a
// longer one is cut (path_truncated / member_truncated say so), so the
// first match always fits.
constexpr std::size_t kMaxPathValue = 4096;
constexpr std::size_t kMaxMatchValue = 1024;
constexpr std::size_t kMaxLayerValue = 256;
constexpr std::size_t kMaxFilesystemValue = 64;
// Longest MSG text (the path and the first match, shorter still).
constexpr std::size_t kMaxMsg = 1024;

int severity_of(int score) {
  const std::string_view s = severity_for(score);
  if (s == "alert") return kCritical;
  if (s == "warning") return kWarning;
  if (s == "notice") return kNotice;
  return kInformational;
}

// One character of `valid` (valid UTF-8) at `i`, as a PARAM-VALUE writes
// it: '"', '\' and ']' escaped with a backslash (RFC 5424 6.3.3), control
// characters (C0, DEL, C1) as \xNN per byte, so no file name can break a
// log line or send terminal escapes. Advances `i`.
std::string escaped_char(std::string_view valid, std::size_t& i) {
  const auto byte = static_cast<unsigned char>(valid[i]);
  const std::size_t len = byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4;
  const std::string_view ch = valid.substr(i, len);
  i += ch.size();
  const auto hex = [](unsigned char b) {
    static constexpr char kDigits[] = "0123456789abcdef";
    return std::string{'\\', 'x', kDigits[b >> 4], kDigits[b & 15]};
  };
  if (byte < 0x20 || byte == 0x7f) return hex(byte);
  if (byte == 0xc2 && ch.size() == 2 && static_cast<unsigned char>(ch[1]) < 0xa0) {
    return hex(byte) + hex(static_cast<unsigned char>(ch[1]));  // U+0080..U+009F
  }
  if (byte == '"' || byte == '\\' || byte == ']') return std::string{'\\', static_cast<char>(byte)};
  return std::string(ch);
}

// `raw` escaped as above, at most `max` bytes: cut between characters
// (never inside a UTF-8 sequence or an escape); `*cut` is set when it was.
std::string param_value(std::string_view raw, std::size_t max = std::string::npos, bool* cut = nullptr) {
  const std::string valid = to_valid_utf8(raw);
  std::string out;
  for (std::size_t i = 0; i < valid.size();) {
    const std::string piece = escaped_char(valid, i);
    if (out.size() + piece.size() > max) {
      if (cut != nullptr) *cut = true;
      break;
    }
    out += piece;
  }
  return out;
}

// Whether param_value() writes some character of `raw` as \xNN.
bool has_control_char(std::string_view raw) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto b = static_cast<unsigned char>(raw[i]);
    if (b < 0x20 || b == 0x7f) return true;
    if (b == 0xc2 && i + 1 < raw.size() && static_cast<unsigned char>(raw[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(raw[i + 1]) < 0xa0) {
      return true;
    }
  }
  return false;
}

// HOSTNAME / APP-NAME: printable US-ASCII without spaces, or "-".
std::string header_token(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return "-";
  for (const char c : s) {
    if (c < 33 || c > 126) return "-";
  }
  return std::string(s);
}

// Appends text parameters to `out` while it stays within `room` bytes, with
// room kept for `flag` (' NAME_truncated="true"'), which finish() appends
// when any value was cut or left out. Each value is cut to its own limit
// and to what is left.
class BoundedParams {
 public:
  BoundedParams(std::string& out, std::size_t room, std::string_view flag) : out_(out), room_(room), flag_(flag) {}
  void add(std::string_view key, std::string_view raw, std::size_t max) {
    const std::size_t overhead = 1 + key.size() + 3;  // ' key="' and '"'
    const std::size_t used = out_.size() + overhead + flag_.size();
    if (used >= room_) {
      cut_ = true;
      return;
    }
    out_ += " " + std::string(key) + "=\"" + param_value(raw, std::min(max, room_ - used), &cut_) + "\"";
  }
  void finish() {
    if (cut_) out_ += flag_;
  }

 private:
  std::string& out_;
  std::size_t room_;
  std::string_view flag_;
  bool cut_ = false;
};

// The parameters of a finding in a disk image, in at most `room` bytes: the
// short ones (partition, offset, filesystem, inode, deleted) always, then
// the image, the path inside the filesystem and the stream, each cut to its
// own limit and to what is left (disk_truncated="true" when any was). The
// path parameter already holds all of it as one disk path, cut at 4096.
std::string disk_params(const DiskLocation& d, std::size_t room) {
  std::string out;
  if (d.partition >= 0) out += " partition=\"" + std::to_string(d.partition) + "\"";
  out += " offset=\"" + std::to_string(d.offset) + "\" filesystem=\"" + param_value(d.filesystem, kMaxFilesystemValue) +
         "\" inode=\"" + std::to_string(d.inode) + "\" deleted=\"" + (d.deleted ? "true" : "false") + "\"";
  BoundedParams more(out, room, " disk_truncated=\"true\"");
  more.add("disk_image", d.image, kMaxPathValue);
  more.add("path_in_filesystem", d.path, kMaxPathValue);
  if (!d.stream.empty()) more.add("stream", d.stream, kMaxMatchValue);
  more.finish();
  return out;
}

// The parameters of a finding in a live process, in at most `room` bytes:
// the numbers (pid, ppid, uid, exe_deleted, and the region's addresses and
// permissions for a match in memory) always, then the command name, the
// executable, the mapped file and the command line, each cut to its own
// limit and to what is left (process_truncated="true" when any was). All
// but the numbers are chosen by the process itself.
std::string process_params(const ProcessLocation& p, std::size_t room) {
  const ProcessInfo& info = p.process;
  std::string out = " pid=\"" + std::to_string(info.pid) + "\" ppid=\"" + std::to_string(info.ppid) + "\" uid=\"" +
                    std::to_string(info.uid) + "\" exe_deleted=\"" + (info.exe_deleted ? "true" : "false") + "\"" +
                    " part=\"" + (p.memory ? "memory" : "executable") + "\"";
  if (p.region) {
    out += " region_start=\"" + hex_address(p.region->start) + "\" region_end=\"" + hex_address(p.region->end) +
           "\" region_perms=\"" + param_value(p.region->perms, 8) + "\"";
  }
  BoundedParams more(out, room, " process_truncated=\"true\"");
  more.add("process_name", info.name, 64);
  more.add("exe", info.exe, kMaxPathValue);
  if (p.region && !p.region->path.empty()) more.add("region_path", p.region->path, kMaxPathValue);
  more.add("cmdline", info.cmdline, kMaxMatchValue);
  more.finish();
  return out;
}

std::string match_id(const MatchRecord& m) {
  if (const auto* y = std::get_if<YaraMatchRecord>(&m)) return "yara:" + y->rule->ns + ":" + y->rule->name;
  if (const auto* f = std::get_if<FilenameMatchRecord>(&m)) {
    return "filename:" + f->ioc->source + ":" + std::to_string(f->ioc->line);
  }
  if (const auto* o = std::get_if<ObservationMatchRecord>(&m)) return "process:" + std::string(o->observation->id);
  const HashIoc& ioc = *std::get<HashMatchRecord>(m).ioc;
  return "hash:" + std::string(digest_name(ioc.kind)) + ":" + ioc.value;
}

// The local socket, written synchronously: a local daemon that is slow
// holds the scan, as it always has.
class UnixDelivery final : public report_detail::SyslogDelivery {
 public:
  UnixDelivery(int fd, bool stream) : fd_(fd), stream_(stream) {}
  ~UnixDelivery() override { ::close(fd_); }
  UnixDelivery(const UnixDelivery&) = delete;
  UnixDelivery& operator=(const UnixDelivery&) = delete;

  void deliver(std::string line) override {
    // Stream sockets frame by octet counting (RFC 6587); datagrams are
    // one message each.
    const std::string wire = stream_ ? std::to_string(line.size()) + " " + line : line;
    std::size_t done = 0;
    while (done < wire.size()) {
      const ssize_t n = ::send(fd_, wire.data() + done, wire.size() - done, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        ++failed_;
        last_error_ = std::strerror(errno);
        return;
      }
      done += static_cast<std::size_t>(n);
      if (!stream_) break;
    }
    ++sent_;
  }
  void finish() override {}
  std::uint64_t sent() const override { return sent_; }
  std::uint64_t undelivered() const override { return failed_; }
  std::string last_error() const override { return last_error_; }

 private:
  int fd_;
  bool stream_;
  std::uint64_t sent_ = 0;
  std::uint64_t failed_ = 0;
  std::string last_error_;
};

class Rfc5424SyslogSink final : public SyslogSink {
 public:
  Rfc5424SyslogSink(std::unique_ptr<report_detail::SyslogDelivery> delivery, SyslogOptions options)
      : delivery_(std::move(delivery)), options_(std::move(options)), pid_(std::to_string(::getpid())) {
    options_.hostname = header_token(options_.hostname, 255);
    options_.app_name = header_token(options_.app_name, 48);
  }

  void begin(const ScanInfo& info) override {
    const std::string msg = "iocsweep scan started";
    const std::size_t budget = kMaxMessage - header(kInformational, "scan_started").size() - 1 - msg.size() - 1;
    constexpr std::string_view kTruncated = " truncated=\"true\"]";
    std::string sd = std::string("[") + kSdId + " event=\"scan_started\"";
    bool truncated = false;
    for (const std::string& root : info.roots) {
      const std::string param = " root=\"" + param_value(root, kMaxPathValue, &truncated) + "\"";
      if (sd.size() + param.size() + kTruncated.size() > budget) {
        truncated = true;
        break;
      }
      sd += param;
    }
    if (truncated) sd += " truncated=\"true\"";
    sd += "]";
    send(kInformational, "scan_started", sd, msg);
  }

  void finding(Finding f) override {
    // The path and its hex are cut to a bounded length, so the fixed
    // parameters and the first match always fit.
    bool path_cut = false;
    std::string sd =
        std::string("[") + kSdId + " event=\"finding\" path=\"" + param_value(f.path, kMaxPathValue, &path_cut) + "\"";
    // The exact bytes where the text cannot give them: not UTF-8, or
    // control characters written as escapes.
    if (!is_valid_utf8(f.path) || has_control_char(f.path)) {
      const std::string hex = to_hex(f.path);
      if (hex.size() > kMaxPathValue) path_cut = true;
      sd += " path_hex=\"" + hex.substr(0, kMaxPathValue) + "\"";
    }
    if (path_cut) sd += " path_truncated=\"true\"";
    if (!f.member.empty()) {
      bool member_cut = false;
      sd += " member=\"" + param_value(member_chain(f), kMaxPathValue, &member_cut) + "\"";
      if (member_cut) sd += " member_truncated=\"true\"";
    }
    if (f.image) sd += " layer=\"" + param_value(f.image->layer, kMaxLayerValue) + "\"";
    if (f.cached) sd += " cached=\"true\"";
    sd += " score=\"" + std::to_string(f.score) + "\" severity=\"" + std::string(severity_for(f.score)) + "\"";
    sd += " size=\"" + std::to_string(f.size) + "\"";
    for (const DigestKind kind : {DigestKind::kMd5, DigestKind::kSha1, DigestKind::kSha256}) {
      if (f.digests.present.has(kind)) sd += " " + std::string(digest_name(kind)) + "=\"" + f.digests.hex(kind) + "\"";
    }
    const std::string first = f.matches.empty() ? "" : match_id(f.matches.front());
    // MSG: the path and the first match, escaped as in the structured data.
    std::string msg = std::string(severity_for(f.score)) + " score=" + std::to_string(f.score) + " ";
    const std::string more = f.matches.size() > 1 ? " and " + std::to_string(f.matches.size() - 1) + " more" : "";
    const std::string first_text = param_value(first, kMaxMsg / 4);
    msg += param_value(f.path, kMaxMsg - msg.size() - first_text.size() - more.size() - 3);
    msg += " (" + first_text + more + ")";
    // What the header and MSG leave for the structured data.
    const int severity = severity_of(f.score);
    const std::size_t budget = kMaxMessage - header(severity, "finding").size() - 1 - msg.size() - 1;
    constexpr std::string_view kTruncated = " truncated=\"true\"]";
    if (f.disk) {
      // What the first match (always sent) leaves of the budget.
      const std::size_t first_param = 9 + param_value(first, kMaxMatchValue).size();
      const std::size_t reserved = sd.size() + first_param + kTruncated.size();
      sd += disk_params(*f.disk, budget > reserved ? budget - reserved : 0);
    }
    if (f.process) {
      const std::size_t first_param = 9 + param_value(first, kMaxMatchValue).size();
      const std::size_t reserved = sd.size() + first_param + kTruncated.size();
      sd += process_params(*f.process, budget > reserved ? budget - reserved : 0);
    }
    bool truncated = false;
    for (std::size_t i = 0; i < f.matches.size(); ++i) {
      const std::string param = " match=\"" + param_value(match_id(f.matches[i]), kMaxMatchValue) + "\"";
      if (i > 0 && sd.size() + param.size() + kTruncated.size() > budget) {
        truncated = true;
        break;
      }
      sd += param;
    }
    if (truncated) sd += " truncated=\"true\"";
    sd += "]";
    send(severity, "finding", sd, msg);
  }

  // Errors and skipped entries are many on a live server (permission
  // denied, sockets) and stay in the report; syslog carries their counts.
  void error(FileError) override {}
  void skipped(SkippedFile) override {}
  void atime_not_preserved(std::string) override {}

  Status end(const ScanEnd& end) override {
    const ScanStats& s = end.stats;
    const std::string sd = std::string("[") + kSdId + " event=\"scan_finished\" complete=\"" +
                           (end.complete ? "true" : "false") + "\" files_scanned=\"" + std::to_string(s.files_scanned) +
                           "\" bytes_scanned=\"" + std::to_string(s.bytes_scanned) + "\" files_skipped=\"" +
                           std::to_string(s.files_skipped) + "\" skipped_unscanned=\"" +
                           std::to_string(s.skipped_unscanned) + "\" errors=\"" + std::to_string(s.errors) +
                           "\" findings=\"" + std::to_string(s.findings) + "\"]";
    const bool clean = scan_saw_everything(end);
    send(s.findings > 0 ? kWarning
         : clean        ? kInformational
                        : kNotice,
         "scan_finished", sd,
         "iocsweep scan finished: " + std::to_string(s.findings) + " findings, " + std::to_string(s.errors) +
             " errors" + (end.complete ? "" : ", interrupted"));
    delivery_->finish();
    return Ok{};
  }

  std::uint64_t messages_sent() const override { return delivery_->sent(); }
  std::uint64_t messages_failed() const override { return delivery_->undelivered(); }
  std::string last_error() const override { return delivery_->last_error(); }

 private:
  // "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID", without the space
  // before the structured data.
  std::string header(int severity, const char* msgid) const {
    return "<" + std::to_string(options_.facility * 8 + severity) + ">1 " + now_rfc3339() + " " + options_.hostname +
           " " + options_.app_name + " " + pid_ + " " + msgid;
  }

  void send(int severity, const char* msgid, const std::string& sd, const std::string& msg) {
    delivery_->deliver(header(severity, msgid) + " " + sd + " " + msg);
  }

  std::unique_ptr<report_detail::SyslogDelivery> delivery_;
  SyslogOptions options_;
  std::string pid_;
};

class TeeSink : public ReportSink {
 public:
  TeeSink(ReportSink& primary, ReportSink& secondary) : a_(primary), b_(secondary) {}
  void begin(const ScanInfo& info) override {
    a_.begin(info);
    b_.begin(info);
  }
  void finding(Finding f) override {
    b_.finding(f);
    a_.finding(std::move(f));
  }
  void error(FileError e) override {
    b_.error(e);
    a_.error(std::move(e));
  }
  void skipped(SkippedFile s) override {
    b_.skipped(s);
    a_.skipped(std::move(s));
  }
  void atime_not_preserved(std::string path) override {
    b_.atime_not_preserved(path);
    a_.atime_not_preserved(std::move(path));
  }
  Status end(const ScanEnd& end) override {
    Status second = b_.end(end);
    Status first = a_.end(end);
    if (!first) return first;
    return second;
  }

 protected:
  ReportSink& a_;
  ReportSink& b_;
};

// The syslog sink ends first, so that the report can say what it delivered.
class SyslogTeeSink final : public TeeSink {
 public:
  SyslogTeeSink(ReportSink& report, SyslogSink& syslog) : TeeSink(report, syslog), syslog_(syslog) {}
  Status end(const ScanEnd& end) override {
    Status second = b_.end(end);
    ScanEnd counted = end;
    counted.stats.syslog = ScanStats::SyslogCounts{syslog_.messages_sent(), syslog_.messages_failed()};
    Status first = a_.end(counted);
    if (!first) return first;
    return second;
  }

 private:
  SyslogSink& syslog_;
};

}  // namespace

Result<std::unique_ptr<SyslogSink>> SyslogSink::open(SyslogOptions options) {
  if (options.transport != SyslogTransport::kUnix) {
    auto delivery = report_detail::make_remote_syslog_delivery(options);
    if (!delivery) return Error{"syslog: " + delivery.error().message};
    return std::unique_ptr<SyslogSink>(std::make_unique<Rfc5424SyslogSink>(std::move(*delivery), std::move(options)));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options.socket_path.empty() || options.socket_path.size() >= sizeof addr.sun_path) {
    return Error{"syslog socket path is empty or too long: " + options.socket_path};
  }
  std::memcpy(addr.sun_path, options.socket_path.data(), options.socket_path.size());
  std::string first_error;
  for (const int type : {SOCK_DGRAM, SOCK_STREAM}) {
    const int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{"syslog: cannot create a socket: " + std::string(std::strerror(errno))};
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
      return std::unique_ptr<SyslogSink>(std::make_unique<Rfc5424SyslogSink>(
          std::make_unique<UnixDelivery>(fd, type == SOCK_STREAM), std::move(options)));
    }
    const int err = errno;
    ::close(fd);
    // EPROTOTYPE: the daemon listens on a stream socket; try that.
    if (err != EPROTOTYPE) {
      return Error{"syslog: cannot connect to " + options.socket_path + ": " + std::strerror(err)};
    }
  }
  return Error{"syslog: cannot connect to " + options.socket_path + ": no usable socket type"};
}

std::unique_ptr<ReportSink> make_tee_sink(ReportSink& primary, ReportSink& secondary) {
  return std::make_unique<TeeSink>(primary, secondary);
}

std::unique_ptr<ReportSink> make_syslog_tee_sink(ReportSink& report, SyslogSink& syslog) {
  return std::make_unique<SyslogTeeSink>(report, syslog);
}

}  // namespace iocsweep
