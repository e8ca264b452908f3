// The errand binary: parses the command line (CLI11 lives in this file only;
// it is slow to compile) and runs the chosen subcommand.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include <map>

#include "server/serve.hpp"

namespace {

// Values from `--config FILE` fill the options not given as flags or ERRAND_* variables.
bool apply_config_file(const std::string& path, CLI::App& serve, errand::server::ServeOptions& o,
                       std::string& durability) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::fprintf(stderr, "errand: cannot read config %s: %s\n", path.c_str(), e.what());
    return false;
  }
  auto unset = [&](const char* flag) { return serve.get_option(flag)->count() == 0; };
  if (auto v = t["listen"].value<std::string>(); v && unset("--listen")) o.listen = *v;
  if (auto v = t["data_dir"].value<std::string>(); v && unset("--data-dir")) o.data_dir = *v;
  if (auto v = t["durability"].value<std::string>(); v && unset("--durability")) durability = *v;
  if (auto* v = t["cors_origins"].as_array(); v && unset("--cors-origin")) {
    for (const auto& e : *v) {
      if (auto s = e.value<std::string>()) o.cors_origins.push_back(*s);
    }
  }
  if (auto v = t["max_wait_ms"].value<std::int64_t>(); v && unset("--max-wait-ms")) {
    o.max_wait = std::chrono::milliseconds(*v);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("errand"));
  CLI::App app{"errand: a durable job server with a synchronous front on asynchronous work"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "errand 0.1.0");

  errand::server::ServeOptions options;
  std::string durability = "fsync";
  std::string config;
  std::int64_t max_wait_ms = 60'000;
  CLI::App* serve = app.add_subcommand("serve", "Run the job server on the embedded store");
  serve->footer("Example: errand serve --listen 127.0.0.1:7400 --data-dir ./errand-data");
  serve
      ->add_option("--listen", options.listen, "Address to listen on (HOST:PORT; port 0 picks one)")
      ->envname("ERRAND_LISTEN")
      ->capture_default_str();
  serve->add_option("--data-dir", options.data_dir, "Directory of the embedded store")
      ->envname("ERRAND_DATA_DIR")
      ->capture_default_str();
  serve
      ->add_option("--durability", durability,
                   "fsync: a 2xx means fsync'd (default); os: written, not fsync'd (a machine "
                   "crash may lose it); memory: no write-ahead log (a crash loses it)")
      ->envname("ERRAND_DURABILITY")
      ->check(CLI::IsMember({"fsync", "os", "memory"}))
      ->capture_default_str();
  serve->add_option("--config", config, "TOML file with defaults for these options")
      ->envname("ERRAND_CONFIG")
      ->check(CLI::ExistingFile);
  serve->add_option("--max-wait-ms", max_wait_ms, "Cap on Prefer: wait, in milliseconds")
      ->envname("ERRAND_MAX_WAIT_MS")
      ->check(CLI::Range(0, 3'600'000))
      ->capture_default_str();
  serve->add_option("--max-connections", options.max_connections, "Open connections at most")
      ->envname("ERRAND_MAX_CONNECTIONS")
      ->capture_default_str();
  serve
      ->add_option("--cors-origin", options.cors_origins,
                   "Let pages from this origin call the API from a browser (repeatable; * = any)")
      ->envname("ERRAND_CORS_ORIGINS")
      ->delimiter(',');
  serve->add_option("--threads", options.threads, "I/O threads (0: one per core)")
      ->envname("ERRAND_THREADS")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (serve->parsed()) {
    options.max_wait = std::chrono::milliseconds(max_wait_ms);
    if (!config.empty() && !apply_config_file(config, *serve, options, durability)) return 2;
    static const std::map<std::string, errand::embedded::Durability> kDurability = {
        {"fsync", errand::embedded::Durability::kFsync},
        {"os", errand::embedded::Durability::kOs},
        {"memory", errand::embedded::Durability::kMemory}};
    auto it = kDurability.find(durability);
    if (it == kDurability.end()) {
      std::fprintf(stderr, "errand: durability must be fsync, os or memory\n");
      return 2;
    }
    options.durability = it->second;
    return errand::server::serve(options);
  }
  return 2;
}
