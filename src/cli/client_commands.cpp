// submit, get, events, jobs, queues, retry, cancel: one client call each,
// the answer on stdout as JSON (or a table), errors as one sentence on stderr.
#include <cstdio>
#include <string>

#include "cli/client_errors.hpp"
#include "cli/commands.hpp"
#include "cli/json_text.hpp"
#include "cli/table.hpp"
#include "core/queue_name.hpp"
#include "errand/client.hpp"

namespace errand::cli {
namespace {

// Payloads beyond this are refused before reading further: the server's own
// limit is far lower, this only keeps a mistaken `< /dev/zero` bounded.
constexpr std::size_t kMaxStdinPayload = 64 << 20;

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "errand: %s\n", as_sentence(message).c_str());
  return code;
}

int usage_error(const std::string& message) { return fail(kExitError, message); }

void print_line(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Runs `call` with a client for `server`; a thrown errand::Error becomes its
// sentence on stderr and its exit code.
template <typename Call>
int with_client(const ServerArgs& server, Call call) {
  if (const std::string why = check_server_url(server.url); !why.empty()) return usage_error(why);
  try {
    ClientOptions options;
    options.server = server.url;
    options.token = server.token;
    options.ca_file = server.ca_file;
    Client client(std::move(options));
    return call(client);
  } catch (const Error& e) {
    const CliError err = describe_error(e, server.url);
    return fail(err.exit_code, err.message);
  } catch (const std::exception& e) {
    return fail(kExitError, e.what());
  }
}

bool is_terminal_event(std::string_view type) {
  return type == "succeeded" || type == "failed" || type == "cancelled" || type == "expired";
}

// 0 unless the job ended badly: scripts can `errand submit ... --wait 30 && next`.
int exit_code_for(const Job& job) {
  const bool bad = job.state == "failed" || job.state == "cancelled" || job.state == "expired";
  return bad ? kExitNegative : kExitOk;
}

std::string queue_name_error(const std::string& name) {
  return "'" + name +
         "' is not a valid queue name: use up to 128 letters, digits, '.', '_' or '-', "
         "starting with a letter or digit";
}

bool read_stdin(std::string& out) {
  char buf[64 << 10];
  for (;;) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, stdin);
    out.append(buf, n);
    if (out.size() > kMaxStdinPayload) return false;
    if (n < sizeof buf) return !std::ferror(stdin);
  }
}

}  // namespace

int run_submit(const SubmitArgs& args) {
  if (!is_valid_queue_name(args.queue)) return usage_error(queue_name_error(args.queue));
  std::string payload = args.payload.value_or("{}");
  if (payload == "-") {
    payload.clear();
    if (!read_stdin(payload)) {
      return usage_error("cannot read the payload from stdin (an error, or more than 64 MiB)");
    }
  }
  if (auto why = json_error(payload)) {
    return usage_error("the payload is not valid JSON (" + *why +
                       "); put it in single quotes, e.g. '{\"n\": 1}' or '\"text\"'");
  }
  SubmitOptions options;
  options.priority = args.priority;
  options.delay_ms = args.delay_ms;
  options.max_attempts = args.max_attempts;
  options.ttl_ms = args.ttl_ms;
  options.idempotency_key = args.key;
  options.tags = args.tags;
  options.wait_seconds = args.wait_seconds;
  return with_client(args.server, [&](Client& client) {
    const Job job = client.submit(args.queue, trim_json_whitespace(payload), options);
    print_line(job.json);
    return exit_code_for(job);
  });
}

int run_get(const GetArgs& args) {
  return with_client(args.server, [&](Client& client) {
    const Job job = client.get(args.id, args.wait_seconds);
    print_line(job.json);
    return exit_code_for(job);
  });
}

int run_events(const EventsArgs& args) {
  return with_client(args.server, [&](Client& client) {
    // The timeline so far first: it fails fast on an unknown job or an
    // unreachable server, and it tells whether the job has ended by now. A
    // stream from the start would stop at the first terminal event even when
    // the job was retried after it.
    const std::vector<Event> so_far = client.events(args.id);
    for (const Event& e : so_far) print_line(e.json);
    if (!args.follow || (!so_far.empty() && is_terminal_event(so_far.back().type))) {
      return kExitOk;
    }
    client.follow(
        args.id,
        [](const Event& e) {
          print_line(e.json);
          return true;
        },
        so_far.empty() ? 0 : so_far.back().seq);
    return kExitOk;
  });
}

int run_jobs(const JobsArgs& args) {
  if (args.queue && !is_valid_queue_name(*args.queue)) {
    return usage_error(queue_name_error(*args.queue));
  }
  JobFilter filter;
  filter.queue = args.queue;
  filter.state = args.state;
  filter.limit = args.limit;
  filter.cursor = args.cursor;
  return with_client(args.server, [&](Client& client) {
    const JobPage page = client.jobs(filter);
    if (args.format == Format::kTable) {
      std::fputs(jobs_table(page.jobs).c_str(), stdout);
      // On stderr, so that the table itself stays clean for grep and awk.
      if (page.next) std::fprintf(stderr, "errand: more with --cursor %s\n", page.next->c_str());
      return kExitOk;
    }
    std::string out = "{\"jobs\":[";
    for (std::size_t i = 0; i < page.jobs.size(); ++i) {
      if (i > 0) out += ',';
      out += page.jobs[i].json;
    }
    out += "],\"next\":";
    out += page.next ? quote_json(*page.next) : "null";
    out += '}';
    print_line(out);
    return kExitOk;
  });
}

int run_queues(const QueuesArgs& args) {
  return with_client(args.server, [&](Client& client) {
    const std::vector<Queue> queues = client.queues();
    if (args.format == Format::kTable) {
      std::fputs(queues_table(queues).c_str(), stdout);
      return kExitOk;
    }
    std::string out = "{\"queues\":[";
    for (std::size_t i = 0; i < queues.size(); ++i) {
      if (i > 0) out += ',';
      out += queues[i].json;
    }
    out += "]}";
    print_line(out);
    return kExitOk;
  });
}

int run_retry(const JobActionArgs& args) {
  return with_client(args.server, [&](Client& client) {
    print_line(client.retry(args.id).json);
    return kExitOk;
  });
}

int run_cancel(const JobActionArgs& args) {
  return with_client(args.server, [&](Client& client) {
    print_line(client.cancel(args.id).json);
    return kExitOk;
  });
}

}  // namespace errand::cli
