// order-worker: takes orders from the `orders` queue, reserves stock and
// charges a (simulated) card, reporting progress as it goes.
//
// The payload (what examples/checkout-form submits):
//   {"items": [{"sku": "mug", "qty": 2}], "amount_cents": 2400,
//    "card": {"number": "4242 4242 4242 4242"}}
// A card number ending in 0002 is declined; a sku with no stock left fails
// the order. Each step takes a random delay so that slow orders (and the
// 202 + live progress path of the form) can be seen.
//
//   order-worker [--server URL] [--queue orders] [--concurrency 4] [--max-delay-ms 1500]
// ERRAND_URL and ERRAND_TOKEN are read too. SIGTERM or Ctrl-C: finish the
// orders in hand, take no more, exit.
#include <errand/worker.hpp>

#include <boost/json.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>

namespace json = boost::json;

namespace {

errand::Worker* g_worker = nullptr;

void on_signal(int) {
  if (g_worker != nullptr) g_worker->stop();  // async-signal-safe
}

// The shop's stock; a real worker would call the inventory service.
class Stock {
 public:
  // Takes the items or nothing; returns the first sku that is short.
  std::string reserve(const json::array& items) {
    std::lock_guard lock(mutex_);
    for (const auto& item : items) {
      const auto& sku = item.at("sku").as_string();
      const auto qty = item.at("qty").to_number<int>();
      if (left(std::string(sku)) < qty) return std::string(sku);
    }
    for (const auto& item : items) {
      left(std::string(item.at("sku").as_string())) -= item.at("qty").to_number<int>();
    }
    return {};
  }

 private:
  int& left(const std::string& sku) { return levels_.try_emplace(sku, 100).first->second; }

  std::mutex mutex_;
  std::map<std::string, int> levels_{{"sold-out-poster", 0}};
};

struct Settings {
  errand::WorkerOptions worker;
  int max_delay_ms = 1500;
};

Settings parse_args(int argc, char** argv) {
  Settings s;
  if (const char* url = std::getenv("ERRAND_URL")) s.worker.client.server = url;
  if (const char* token = std::getenv("ERRAND_TOKEN")) s.worker.client.token = token;
  s.worker.queues = {"orders"};
  s.worker.concurrency = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--server") {
      s.worker.client.server = value;
    } else if (flag == "--queue") {
      s.worker.queues = {value};
    } else if (flag == "--concurrency") {
      s.worker.concurrency = std::stoi(value);
    } else if (flag == "--max-delay-ms") {
      s.max_delay_ms = std::stoi(value);
    } else {
      std::fprintf(stderr, "order-worker: unknown option %s\n", flag.c_str());
      std::exit(2);
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "order-worker: every option takes a value\n");
    std::exit(2);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings = parse_args(argc, argv);
  Stock stock;
  std::mt19937 rng(std::random_device{}());
  std::mutex rng_mutex;
  auto work_for_a_while = [&](errand::JobContext& job) {
    int ms = 0;
    {
      std::lock_guard lock(rng_mutex);
      ms = std::uniform_int_distribution<int>(0, settings.max_delay_ms)(rng);
    }
    // Sleeps, but wakes at once if the order is cancelled meanwhile.
    if (job.wait_for_cancel(std::chrono::milliseconds(ms)) && job.cancel_requested()) {
      throw errand::JobFailure("the order was cancelled", "cancelled", {}, /*retry=*/false);
    }
  };

  errand::Worker worker(settings.worker, [&](errand::JobContext& job) {
    json::value order;
    try {
      order = json::parse(job.job().payload);
      (void)order.at("items").as_array();
      (void)order.at("card").at("number").as_string();
      (void)order.at("amount_cents").to_number<std::int64_t>();
    } catch (const std::exception& e) {
      // Retrying cannot fix a malformed order.
      throw errand::JobFailure("the order is malformed", "invalid_order", e.what(), false);
    }

    job.progress(10, "reserving stock");
    work_for_a_while(job);
    if (auto short_sku = stock.reserve(order.at("items").as_array()); !short_sku.empty()) {
      throw errand::JobFailure("out of stock: " + short_sku, "out_of_stock", {}, false);
    }

    job.progress(50, "charging the card");
    work_for_a_while(job);
    const std::string card(order.at("card").at("number").as_string());
    if (card.size() >= 4 && card.ends_with("0002")) {
      throw errand::JobFailure("the card was declined", "declined", "issuer answered 05", false);
    }

    job.progress(90, "confirming");
    json::object result;
    result["confirmation"] = "C-" + job.job().id.substr(job.job().id.size() - 8);
    result["charged_cents"] = order.at("amount_cents");
    return json::serialize(result);
  });

  g_worker = &worker;
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::fprintf(stderr, "order-worker: taking orders from %s on %s\n",
               settings.worker.queues.front().c_str(), settings.worker.client.server.c_str());
  try {
    worker.run();
  } catch (const errand::Error& e) {
    std::fprintf(stderr, "order-worker: %s\n", e.what());
    return 2;
  }
  g_worker = nullptr;
  const auto stats = worker.stats();
  std::fprintf(stderr, "order-worker: stopped after %llu orders done, %llu failed\n",
               static_cast<unsigned long long>(stats.succeeded),
               static_cast<unsigned long long>(stats.failed));
  return 0;
}
