// An HNSW graph (hnswlib) over int8-quantized unit vectors, whose bulk insert runs on several threads
// at once, off the JavaScript thread.
//
// Why: hnswlib-node inserts one float32 vector per call on the calling thread. On 100k 384-d loosely
// clustered vectors the build was memory-bound in the distance function; walking a quarter of the
// bytes per vector, with all cores inserting into one graph, cut it by 3x (docs/BENCHMARKS.md, Vectors).
//
// Stored per vector, after normalising: `dimensions` int8 codes, the float32 scale s (component ≈
// code * s), then the components as float16. The graph is walked with the int8 codes alone (cosine
// distance = 1 - (codes_a · codes_b) * s_a * s_b); a search then re-ranks its ef candidates by the
// float16 components, because int8 rounding alone capped recall@10 near 0.98 on that data.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include <immintrin.h>
#include <sys/mman.h>

#include "hnswlib/hnswlib.h"

namespace {

using DotFunction = int32_t (*)(const int8_t*, const int8_t*, size_t);

int32_t DotScalar(const int8_t* a, const int8_t* b, size_t n) {
  int32_t sum = 0;
  for (size_t i = 0; i < n; i++) sum += int32_t(a[i]) * int32_t(b[i]);
  return sum;
}

// 32 codes per step, widened to int16 and multiply-accumulated in pairs (VNNI).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) int32_t DotAvx512Vnni(const int8_t* a, const int8_t* b, size_t n) {
  __m512i acc = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512i wa = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)));
    __m512i wb = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)));
    acc = _mm512_dpwssd_epi32(acc, wa, wb);
  }
  return _mm512_reduce_add_epi32(acc) + DotScalar(a + i, b + i, n - i);
}

__attribute__((target("avx2"))) int32_t DotAvx2(const int8_t* a, const int8_t* b, size_t n) {
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i wa = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    __m256i wb = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(wa, wb));
  }
  __m128i half = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  half = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0x4e));
  half = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0xb1));
  return _mm_cvtsi128_si32(half) + DotScalar(a + i, b + i, n - i);
}

// The widest kernel this CPU runs, chosen at load: the addon is built for baseline x86-64.
DotFunction PickDot(std::string* name) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) {
    *name = "avx512-vnni";
    return DotAvx512Vnni;
  }
  if (__builtin_cpu_supports("avx2")) {
    *name = "avx2";
    return DotAvx2;
  }
  *name = "scalar";
  return DotScalar;
}

std::string g_kernel_name;
const DotFunction g_dot = PickDot(&g_kernel_name);

// float16 dot products for the re-rank: F16C where the CPU has it, a portable conversion elsewhere.
using HalfDotFunction = float (*)(const float*, const uint16_t*, size_t);

float HalfToFloat(uint16_t half) {
  const uint32_t sign = uint32_t(half & 0x8000) << 16;
  const uint32_t exponent = (half >> 10) & 0x1f;
  const uint32_t mantissa = half & 0x3ff;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int shift = 0;
      uint32_t m = mantissa;
      while ((m & 0x400) == 0) { m <<= 1; shift++; }
      bits = sign | (uint32_t(113 - shift) << 23) | ((m & 0x3ff) << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// Round to nearest even; unit-vector components never overflow float16.
uint16_t FloatToHalf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = uint16_t((bits >> 16) & 0x8000);
  const int32_t exponent = int32_t((bits >> 23) & 0xff) - 127 + 15;
  uint32_t mantissa = bits & 0x7fffff;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000;
    const int shift = 14 - exponent;
    uint32_t half = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t midpoint = 1u << (shift - 1);
    if (rest > midpoint || (rest == midpoint && (half & 1))) half++;
    return uint16_t(sign | half);
  }
  if (exponent >= 31) return uint16_t(sign | 0x7c00);
  uint32_t half = (uint32_t(exponent) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++;
  return uint16_t(sign | half);
}

float HalfDotScalar(const float* a, const uint16_t* b, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; i++) sum += a[i] * HalfToFloat(b[i]);
  return sum;
}

__attribute__((target("avx2,fma,f16c"))) float HalfDotF16c(const float* a, const uint16_t* b, size_t n) {
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 wide = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), wide, acc);
  }
  __m128 half = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  half = _mm_add_ps(half, _mm_movehl_ps(half, half));
  half = _mm_add_ss(half, _mm_shuffle_ps(half, half, 0x55));
  return _mm_cvtss_f32(half) + HalfDotScalar(a + i, b + i, n - i);
}

HalfDotFunction PickHalfDot() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? HalfDotF16c : HalfDotScalar;
}

const HalfDotFunction g_half_dot = PickHalfDot();

class Int8CosineSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit Int8CosineSpace(size_t dimensions) : dimensions_(dimensions) {}
  size_t get_data_size() override { return dimensions_ + sizeof(float) + dimensions_ * sizeof(uint16_t); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return Distance; }
  void* get_dist_func_param() override { return &dimensions_; }

  // `unit` receives the normalised vector; a zero vector stays zero (distance 1 to all).
  void Normalise(const float* vector, float* unit) const {
    double norm = 0;
    for (size_t i = 0; i < dimensions_; i++) norm += double(vector[i]) * vector[i];
    const float inverse_norm = norm > 0 ? float(1.0 / std::sqrt(norm)) : 0.0f;
    for (size_t i = 0; i < dimensions_; i++) unit[i] = vector[i] * inverse_norm;
  }

  // `out` receives get_data_size() bytes: codes, scale, float16 components.
  void Encode(const float* vector, uint8_t* out) const {
    std::vector<float> unit(dimensions_);
    Normalise(vector, unit.data());
    EncodeUnit(unit.data(), out);
  }

  void EncodeUnit(const float* unit, uint8_t* out) const {
    float largest = 0;
    for (size_t i = 0; i < dimensions_; i++) largest = std::max(largest, std::fabs(unit[i]));
    const float scale = largest > 0 ? largest / 127.0f : 1.0f;
    int8_t* codes = reinterpret_cast<int8_t*>(out);
    for (size_t i = 0; i < dimensions_; i++) codes[i] = int8_t(std::lrint(unit[i] / scale));
    std::memcpy(out + dimensions_, &scale, sizeof(float));
    uint16_t half;
    for (size_t i = 0; i < dimensions_; i++) {
      half = FloatToHalf(unit[i]);
      std::memcpy(out + dimensions_ + sizeof(float) + i * sizeof(uint16_t), &half, sizeof(half));
    }
  }

  // Cosine similarity of a unit query to a stored vector, from its float16 components.
  float Similarity(const float* unit_query, const uint8_t* stored) const {
    return g_half_dot(unit_query, reinterpret_cast<const uint16_t*>(stored + dimensions_ + sizeof(float)), dimensions_);
  }

 private:
  static float Distance(const void* a, const void* b, const void* param) {
    const size_t n = *static_cast<const size_t*>(param);
    const int8_t* codes_a = static_cast<const int8_t*>(a);
    const int8_t* codes_b = static_cast<const int8_t*>(b);
    float scale_a, scale_b;
    std::memcpy(&scale_a, codes_a + n, sizeof(float));
    std::memcpy(&scale_b, codes_b + n, sizeof(float));
    return 1.0f - float(g_dot(codes_a, codes_b, n)) * scale_a * scale_b;
  }

  size_t dimensions_;
};

class JsFilter : public hnswlib::BaseFilterFunctor {
 public:
  JsFilter(Napi::Env env, Napi::Function function) : env_(env), function_(function) {}
  bool operator()(hnswlib::labeltype label) override {
    return function_.Call({Napi::Number::New(env_, double(label))}).ToBoolean().Value();
  }

 private:
  Napi::Env env_;
  Napi::Function function_;
};

// Runs an hnswlib call, turning its std::exception into a JavaScript error; JavaScript errors thrown
// inside it (by a search filter) pass through as they are.
template <typename Call>
auto Rethrown(Napi::Env env, Call call) -> decltype(call()) {
  try {
    return call();
  } catch (Napi::Error const&) {
    throw;
  } catch (std::exception const& error) {
    throw Napi::Error::New(env, error.what());
  }
}

// The base layer is one allocation walked at random; on 2 MiB pages its translations stay cached.
// Untouched pages fault in as huge pages from here on (the kernel's "madvise" transparent huge pages).
void AdviseHugePages(hnswlib::HierarchicalNSW<float>& graph) {
  constexpr uintptr_t kHugePage = uintptr_t(2) << 20;
  const auto start = reinterpret_cast<uintptr_t>(graph.data_level0_memory_);
  const uintptr_t end = (start + graph.max_elements_ * graph.size_data_per_element_) & ~(kHugePage - 1);
  const uintptr_t first = (start + kHugePage - 1) & ~(kHugePage - 1);
  if (end > first) madvise(reinterpret_cast<void*>(first), end - first, MADV_HUGEPAGE);
}

class QuantizedHnsw;

// Inserts rows [0, count) of a float32 matrix under the given labels on `threads` threads. The typed
// arrays are held by references until the work completes, so their memory stays valid and in place.
class BulkInsert : public Napi::AsyncWorker {
 public:
  BulkInsert(Napi::Env env, QuantizedHnsw* owner, Napi::Uint32Array labels, Napi::Float32Array vectors, size_t threads);
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(Napi::Error const& error) override;

 private:
  QuantizedHnsw* owner_;
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Uint32Array> labels_ref_;
  Napi::Reference<Napi::Float32Array> vectors_ref_;
  Napi::ObjectReference owner_ref_;
  const uint32_t* labels_;
  const float* vectors_;
  size_t count_;
  size_t threads_;
};

class QuantizedHnsw : public Napi::ObjectWrap<QuantizedHnsw> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "QuantizedHnsw", {
      InstanceMethod<&QuantizedHnsw::Add>("add"),
      InstanceMethod<&QuantizedHnsw::AddMany>("addMany"),
      InstanceMethod<&QuantizedHnsw::Inserted>("inserted"),
      InstanceMethod<&QuantizedHnsw::Cancel>("cancel"),
      InstanceMethod<&QuantizedHnsw::MarkDelete>("markDelete"),
      InstanceMethod<&QuantizedHnsw::Search>("search"),
      InstanceMethod<&QuantizedHnsw::SetEf>("setEf"),
      InstanceMethod<&QuantizedHnsw::GetEf>("getEf"),
      InstanceMethod<&QuantizedHnsw::Count>("count"),
      InstanceMethod<&QuantizedHnsw::Capacity>("capacity"),
      InstanceMethod<&QuantizedHnsw::Resize>("resize"),
      InstanceMethod<&QuantizedHnsw::Save>("save"),
      InstanceMethod<&QuantizedHnsw::BytesPerVector>("bytesPerVector"),
    });
  }

  // new QuantizedHnsw(dimensions, capacity, m, efConstruction, seed) or new QuantizedHnsw(dimensions, path)
  explicit QuantizedHnsw(Napi::CallbackInfo const& info) : Napi::ObjectWrap<QuantizedHnsw>(info) {
    const Napi::Env env = info.Env();
    const int64_t dimensions = info[0].As<Napi::Number>().Int64Value();
    if (dimensions < 1 || dimensions > 65536) throw Napi::RangeError::New(env, "dimensions must be in 1..65536");
    space_ = std::make_unique<Int8CosineSpace>(size_t(dimensions));
    dimensions_ = size_t(dimensions);
    if (info[1].IsString()) {
      const std::string path = info[1].As<Napi::String>().Utf8Value();
      graph_ = Rethrown(env, [&] { return std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), path, false, 0, true); });
    } else {
      const int64_t capacity = info[1].As<Napi::Number>().Int64Value();
      const int64_t m = info[2].As<Napi::Number>().Int64Value();
      const int64_t ef_construction = info[3].As<Napi::Number>().Int64Value();
      const int64_t seed = info[4].As<Napi::Number>().Int64Value();
      if (capacity < 1 || m < 2 || ef_construction < 1 || seed < 0) throw Napi::RangeError::New(env, "capacity, m, efConstruction and seed out of range");
      graph_ = Rethrown(env, [&] { return std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), size_t(capacity), size_t(m), size_t(ef_construction), size_t(seed), true); });
    }
    AdviseHugePages(*graph_);
  }

  hnswlib::HierarchicalNSW<float>& graph() { return *graph_; }
  Int8CosineSpace& space() { return *space_; }
  size_t dimensions() const { return dimensions_; }
  std::atomic<size_t>& inserted() { return inserted_; }
  std::atomic<bool>& cancelled() { return cancelled_; }
  void set_busy(bool busy) { busy_ = busy; }

 private:
  void CheckIdle(Napi::Env env) const {
    if (busy_) throw Napi::Error::New(env, "the index is inserting a batch; wait for addMany to settle");
  }

  Napi::Float32Array Vector(Napi::Env env, Napi::Value value) const {
    if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) throw Napi::TypeError::New(env, "vector must be a Float32Array");
    Napi::Float32Array vector = value.As<Napi::Float32Array>();
    if (vector.ElementLength() != dimensions_) throw Napi::RangeError::New(env, "vector has the wrong number of dimensions");
    return vector;
  }

  std::vector<uint8_t> Encoded(Napi::Env env, Napi::Value value) const {
    std::vector<uint8_t> codes(space_->get_data_size());
    space_->Encode(Vector(env, value).Data(), codes.data());
    return codes;
  }

  // add(label, vector, replaceDeleted)
  void Add(Napi::CallbackInfo const& info) {
    const Napi::Env env = info.Env();
    CheckIdle(env);
    const auto label = hnswlib::labeltype(info[0].As<Napi::Number>().Int64Value());
    std::vector<uint8_t> codes = Encoded(env, info[1]);
    const bool replace_deleted = info[2].ToBoolean().Value();
    Rethrown(env, [&] { graph_->addPoint(codes.data(), label, replace_deleted); });
  }

  // addMany(labels: Uint32Array, vectors: Float32Array, threads) → Promise<void>
  Napi::Value AddMany(Napi::CallbackInfo const& info) {
    const Napi::Env env = info.Env();
    CheckIdle(env);
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) throw Napi::TypeError::New(env, "labels must be a Uint32Array");
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) throw Napi::TypeError::New(env, "vectors must be a Float32Array");
    Napi::Uint32Array labels = info[0].As<Napi::Uint32Array>();
    Napi::Float32Array vectors = info[1].As<Napi::Float32Array>();
    if (vectors.ElementLength() != labels.ElementLength() * dimensions_) throw Napi::RangeError::New(env, "vectors must hold one row of `dimensions` per label");
    if (graph_->getCurrentElementCount() + labels.ElementLength() > graph_->getMaxElements()) throw Napi::RangeError::New(env, "not enough capacity for the batch; resize first");
    const int64_t threads = info[2].As<Napi::Number>().Int64Value();
    if (threads < 1 || threads > 256) throw Napi::RangeError::New(env, "threads must be in 1..256");
    inserted_ = 0;
    cancelled_ = false;
    busy_ = true;
    auto* work = new BulkInsert(env, this, labels, vectors, size_t(threads));
    Napi::Promise promise = work->Promise();
    work->Queue();
    return promise;
  }

  Napi::Value Inserted(Napi::CallbackInfo const& info) { return Napi::Number::New(info.Env(), double(inserted_.load())); }

  void Cancel(Napi::CallbackInfo const&) { cancelled_ = true; }

  void MarkDelete(Napi::CallbackInfo const& info) {
    const Napi::Env env = info.Env();
    CheckIdle(env);
    const auto label = hnswlib::labeltype(info[0].As<Napi::Number>().Int64Value());
    Rethrown(env, [&] { graph_->markDelete(label); });
  }

  // search(query, k, filter?) → { labels: Uint32Array, distances: Float32Array }, nearest first. The
  // graph yields max(k, ef) candidates by int8 distance; they are re-ranked by the float16 components.
  Napi::Value Search(Napi::CallbackInfo const& info) {
    const Napi::Env env = info.Env();
    CheckIdle(env);
    Napi::Float32Array vector = Vector(env, info[0]);
    std::vector<float> unit(dimensions_);
    space_->Normalise(vector.Data(), unit.data());
    std::vector<uint8_t> query(space_->get_data_size());
    space_->EncodeUnit(unit.data(), query.data());
    const int64_t k = info[1].As<Napi::Number>().Int64Value();
    if (k < 1) throw Napi::RangeError::New(env, "k must be positive");
    std::unique_ptr<JsFilter> filter;
    if (info.Length() > 2 && info[2].IsFunction()) filter = std::make_unique<JsFilter>(env, info[2].As<Napi::Function>());
    auto found = Rethrown(env, [&] { return graph_->searchKnn(query.data(), std::max(size_t(k), graph_->ef_), filter.get()); });
    std::vector<std::pair<float, hnswlib::labeltype>> ranked;
    ranked.reserve(found.size());
    {
      std::lock_guard<std::mutex> guard(graph_->label_lookup_lock);
      for (; !found.empty(); found.pop()) {
        const hnswlib::labeltype label = found.top().second;
        const auto slot = graph_->label_lookup_.find(label);
        if (slot == graph_->label_lookup_.end()) continue;
        const auto* stored = reinterpret_cast<const uint8_t*>(graph_->getDataByInternalId(slot->second));
        ranked.emplace_back(1.0f - space_->Similarity(unit.data(), stored), label);
      }
    }
    const size_t n = std::min(ranked.size(), size_t(k));
    std::partial_sort(ranked.begin(), ranked.begin() + n, ranked.end());
    Napi::Uint32Array labels = Napi::Uint32Array::New(env, n);
    Napi::Float32Array distances = Napi::Float32Array::New(env, n);
    for (size_t i = 0; i < n; i++) {
      labels[i] = uint32_t(ranked[i].second);
      distances[i] = ranked[i].first;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("labels", labels);
    result.Set("distances", distances);
    return result;
  }

  void SetEf(Napi::CallbackInfo const& info) {
    const int64_t ef = info[0].As<Napi::Number>().Int64Value();
    if (ef < 1) throw Napi::RangeError::New(info.Env(), "ef must be positive");
    graph_->setEf(size_t(ef));
  }

  Napi::Value GetEf(Napi::CallbackInfo const& info) { return Napi::Number::New(info.Env(), double(graph_->ef_)); }

  // Slots in use, mark-deleted ones included.
  Napi::Value Count(Napi::CallbackInfo const& info) { return Napi::Number::New(info.Env(), double(graph_->getCurrentElementCount())); }

  Napi::Value Capacity(Napi::CallbackInfo const& info) { return Napi::Number::New(info.Env(), double(graph_->getMaxElements())); }

  void Resize(Napi::CallbackInfo const& info) {
    const Napi::Env env = info.Env();
    CheckIdle(env);
    const auto capacity = size_t(info[0].As<Napi::Number>().Int64Value());
    Rethrown(env, [&] { graph_->resizeIndex(capacity); });
    AdviseHugePages(*graph_);
  }

  void Save(Napi::CallbackInfo const& info) {
    const Napi::Env env = info.Env();
    CheckIdle(env);
    const std::string path = info[0].As<Napi::String>().Utf8Value();
    Rethrown(env, [&] { graph_->saveIndex(path); });
  }

  // Graph bytes per slot: links of the base layer, the codes, scale and float16 components, the label.
  Napi::Value BytesPerVector(Napi::CallbackInfo const& info) { return Napi::Number::New(info.Env(), double(graph_->size_data_per_element_)); }

  std::unique_ptr<Int8CosineSpace> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph_;
  size_t dimensions_ = 0;
  std::atomic<size_t> inserted_{0};
  std::atomic<bool> cancelled_{false};
  bool busy_ = false;
};

BulkInsert::BulkInsert(Napi::Env env, QuantizedHnsw* owner, Napi::Uint32Array labels, Napi::Float32Array vectors, size_t threads)
    : Napi::AsyncWorker(env, "QuantizedHnswBulkInsert"),
      owner_(owner),
      deferred_(Napi::Promise::Deferred::New(env)),
      labels_ref_(Napi::Persistent(labels)),
      vectors_ref_(Napi::Persistent(vectors)),
      owner_ref_(Napi::Persistent(owner->Value())),
      labels_(labels.Data()),
      vectors_(vectors.Data()),
      count_(labels.ElementLength()),
      threads_(threads) {}

void BulkInsert::Execute() {
  std::atomic<size_t> next{0};
  std::string failure;
  std::atomic<bool> failed{false};
  std::mutex failure_lock;
  const size_t dimensions = owner_->dimensions();
  auto insert = [&]() {
    std::vector<uint8_t> codes(owner_->space().get_data_size());
    for (;;) {
      if (owner_->cancelled() || failed) return;
      const size_t row = next++;
      if (row >= count_) return;
      owner_->space().Encode(vectors_ + row * dimensions, codes.data());
      try {
        owner_->graph().addPoint(codes.data(), labels_[row], true);
      } catch (std::exception const& error) {
        std::lock_guard<std::mutex> guard(failure_lock);
        failure = error.what();
        failed = true;
        return;
      }
      owner_->inserted()++;
    }
  };
  std::vector<std::thread> workers;
  for (size_t i = 1; i < threads_; i++) workers.emplace_back(insert);
  insert();
  for (auto& worker : workers) worker.join();
  if (failed) SetError(failure);
  else if (owner_->cancelled()) SetError("cancelled");
}

void BulkInsert::OnOK() {
  owner_->set_busy(false);
  deferred_.Resolve(Env().Undefined());
}

void BulkInsert::OnError(Napi::Error const& error) {
  owner_->set_busy(false);
  deferred_.Reject(error.Value());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("QuantizedHnsw", QuantizedHnsw::Define(env));
  exports.Set("kernel", Napi::String::New(env, g_kernel_name));
  return exports;
}

}  // namespace

NODE_API_MODULE(quantized_hnsw, Init)
