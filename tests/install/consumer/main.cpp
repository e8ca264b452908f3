// Submits one job to the server named on the command line and prints the
// outcome; exits 0 on success, 3 when the server cannot be reached, 1 on any
// other error. It builds a Worker too, so that linking proves the whole
// library (and its threads) resolves from the installed package.
#include <errand/client.hpp>
#include <errand/worker.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: app SERVER_URL\n");
    return 2;
  }
  errand::WorkerOptions worker_options;
  worker_options.client.server = argv[1];
  worker_options.queues = {"consumer"};
  errand::Worker worker(worker_options, [](errand::JobContext&) { return std::string("{}"); });

  errand::ClientOptions options;
  options.server = argv[1];
  options.connect_timeout = std::chrono::seconds(2);
  try {
    errand::Client client(options);
    const errand::Job job = client.submit("consumer", R"({"hello":"world"})");
    std::printf("submitted %s: %s\n", job.id.c_str(), job.state.c_str());
    return 0;
  } catch (const errand::Error& e) {
    const bool transport = e.kind() == errand::Error::Kind::kTransport;
    std::printf("%s: %s\n", transport ? "kTransport" : "error", e.what());
    return transport ? 3 : 1;
  }
}
