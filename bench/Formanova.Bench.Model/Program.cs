using System.Diagnostics;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;

// In-process Model module figures beside raw ML.NET on the same model, same run. Bounded: a few seconds each.
if (args.Length > 0 && args[0] == "rest")
{
    await RestBench.RunAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10);
    return;
}

// The input contract's cost on the direct predict path: contract <seconds per wrk run>.
if (args is ["contract", ..])
{
    await ContractBench.RunAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10);
    return;
}

// The first request after a switch, with and without preloading: switch [rounds=20] [trainRows=20000].
if (args is ["switch", ..])
{
    await SwitchBench.RunAsync(
        args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20,
        args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 20_000);
    return;
}

// FastTree training side by side, each side in its own child process for its peak memory: train <rows> [runs].
if (args is ["train", var trainArg, ..])
{
    await TrainBench.RunAsync(
        int.Parse(trainArg, System.Globalization.CultureInfo.InvariantCulture),
        args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3);
    return;
}

if (args is ["train-child", var side, var childRows])
{
    var childData = Directory.CreateTempSubdirectory("formanova-bench-train-").FullName;
    await TrainBench.ChildAsync(side, int.Parse(childRows, System.Globalization.CultureInfo.InvariantCulture), childData);
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    Directory.Delete(childData, recursive: true);
    return;
}

// batch <trainRows> <batchRows>: train a model, then only the batch comparison (no single-predict rounds).
var batchOnly = args is ["batch", ..];
if (batchOnly)
{
    args = args[1..];
}

var trainRows = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
var batchRows = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200_000;
var data = Directory.CreateTempSubdirectory("formanova-bench-").FullName;
using var host = await TrainBench.StartHostAsync(
    data,
    new() { ["Model:Inference:MaxBatchRows"] = batchRows.ToString(System.Globalization.CultureInfo.InvariantCulture) });
var models = host.Services.GetRequiredService<IModelModule>();
const ModelTask task = ModelTask.BinaryClassification;

// Training: module (streamed rows) vs raw ML.NET (typed class, same featurisation and FastTree). Both are warmed
// up on a small run first so neither pays the JIT; raw runs first, then the module, on the same rows.
var sample = SampleData.Rows(task, trainRows, 1).ToList();
var typed = sample.Select(Raw.From).ToList();
var ml = new MLContext(1);
ITransformer TrainRaw(List<Raw.Row> rows)
{
    var view = ml.Data.LoadFromEnumerable(rows);
    var split = ml.Data.TrainTestSplit(view, 0.2, seed: 1);
    var model = Raw.Pipeline(ml).Fit(split.TrainSet);
    ml.BinaryClassification.Evaluate(model.Transform(split.TestSet));
    return model;
}

TrainRaw(typed.Take(5000).ToList());
await models.TrainAsync(new TrainModelRequest("warmup", "1.0.0", task, SampleData.Columns(task), Seed: 1), ToAsync(sample.Take(5000)));
GC.Collect();
var sw = Stopwatch.StartNew();
TrainRaw(typed);
var rawTrain = sw.Elapsed.TotalSeconds;
GC.Collect();
var peakBefore = Environment.WorkingSet;
sw.Restart();
await models.TrainAsync(new TrainModelRequest("bench", "1.0.0", task, SampleData.Columns(task), Activate: true, Seed: 1), ToAsync(sample));
var moduleTrain = sw.Elapsed.TotalSeconds;
using var self = System.Diagnostics.Process.GetCurrentProcess();
Console.WriteLine($"train {trainRows} rows x 12 cols: raw {rawTrain:F2} s, module {moduleTrain:F2} s, ratio {moduleTrain / rawTrain:F2}; " +
    $"process peak working set {self.PeakWorkingSet64 / (1024 * 1024)} MiB (rows held twice: object rows + typed rows)");

// Single predict: the module's trained zip in a raw pooled PredictionEngine vs the module on a cache miss and an L1 hit.
var zipPath = Path.Combine(data, "models", "bench", "1.0.0", "model.zip");
var loaded = ml.Model.Load(zipPath, out _);
var pool = new DefaultObjectPool<PredictionEngine<Raw.Features, Raw.Output>>(new Raw.EnginePolicy(ml, loaded), 4);
var inputs = sample.Take(1000).Select(r => (IReadOnlyDictionary<string, object?>)SampleData.Input(r, task)).ToList();
var features = typed.Take(1000).Select(Raw.Features.From).ToList();
// Rounds of the two sides alternate, so a burst of load from the shared box lands on both rather than on one.
(double A, double B) MeasurePair(int n, Action<int> a, Action<int> b)
{
    for (var i = 0; i < Math.Min(n, 2000); i++)
    {
        a(i);
        b(i);
    }

    var sa = new List<double>();
    var sb = new List<double>();
    for (var round = 0; round < 7; round++)
    {
        foreach (var (body, samples) in new[] { (a, sa), (b, sb) })
        {
            var t = Stopwatch.StartNew();
            for (var i = 0; i < n; i++)
            {
                body(i);
            }

            samples.Add(t.Elapsed.TotalMicroseconds / n);
        }
    }

    sa.Sort();
    sb.Sort();
    return (sa[3], sb[3]);
}

if (!batchOnly)
{
    await SinglePredictAsync();
}

async Task SinglePredictAsync()
{
    foreach (var input in inputs)
    {
        await models.PredictAsync(new PredictRequest("bench", input));
    }

    var (raw, miss) = MeasurePair(
        30_000,
        i =>
        {
            var engine = pool.Get();
            engine.Predict(features[i % features.Count]);
            pool.Return(engine);
        },
        i => models.PredictAsync(new PredictRequest("bench", inputs[i % inputs.Count], UseCache: false)).GetAwaiter().GetResult());
    var (_, hit) = MeasurePair(
        100_000,
        _ => { },
        i => models.PredictAsync(new PredictRequest("bench", inputs[i % inputs.Count])).GetAwaiter().GetResult());
    Console.WriteLine($"single predict (median of 7 alternating rounds): raw pooled engine {raw:F2} us, module miss {miss:F2} us (ratio " +
        $"{miss / raw:F2}), module L1 hit {hit:F2} us");

    // Bytes allocated per call: unlike time, it does not depend on what else the shared box is doing.
    double BytesPerCall(int n, Action<int> body)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < n; i++)
        {
            body(i);
        }

        return (double)(GC.GetAllocatedBytesForCurrentThread() - before) / n;
    }

    var rawBytes = BytesPerCall(10_000, i =>
    {
        var engine = pool.Get();
        engine.Predict(features[i % features.Count]);
        pool.Return(engine);
    });
    var missBytes = BytesPerCall(
        10_000,
        i => models.PredictAsync(new PredictRequest("bench", inputs[i % inputs.Count], UseCache: false)).GetAwaiter().GetResult());
    var hitBytes = BytesPerCall(
        10_000,
        i => models.PredictAsync(new PredictRequest("bench", inputs[i % inputs.Count])).GetAwaiter().GetResult());
    Console.WriteLine(
        $"allocated per call: raw pooled engine {rawBytes:F0} B, module miss {missBytes:F0} B, module L1 hit {hitBytes:F0} B");
}

// Batch: module batch (no cache) vs raw pooled engines on two threads.
var batchInputs = Enumerable.Range(0, batchRows).Select(i => inputs[i % inputs.Count]).ToList();
var batchFeatures = Enumerable.Range(0, batchRows).Select(i => features[i % features.Count]).ToList();
// Process CPU time per row as well as wall time: on the shared box wall time swings with the neighbours' load,
// CPU time per row much less.
using var process = Process.GetCurrentProcess();
double CpuMicroseconds()
{
    process.Refresh();
    return process.TotalProcessorTime.TotalMicroseconds;
}

var rawCpu = new List<double>();
var moduleCpu = new List<double>();
double RawBatch()
{
    var cpu = CpuMicroseconds();
    var t = Stopwatch.StartNew();
    Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, part =>
    {
        var engine = pool.Get();
        for (var i = part; i < batchFeatures.Count; i += 2)
        {
            engine.Predict(batchFeatures[i]);
        }

        pool.Return(engine);
    });
    var rate = batchRows / t.Elapsed.TotalSeconds;
    rawCpu.Add((CpuMicroseconds() - cpu) / batchRows);
    return rate;
}

async Task<double> ModuleBatch()
{
    var cpu = CpuMicroseconds();
    var t = Stopwatch.StartNew();
    await models.PredictBatchAsync(new PredictBatchRequest("bench", batchInputs, UseCache: false));
    var rate = batchRows / t.Elapsed.TotalSeconds;
    moduleCpu.Add((CpuMicroseconds() - cpu) / batchRows);
    return rate;
}

var rawRates = new List<double>();
var moduleRates = new List<double>();
for (var round = 0; round < 3; round++)
{
    rawRates.Add(RawBatch());
    moduleRates.Add(await ModuleBatch());
}

rawRates.Sort();
moduleRates.Sort();
rawCpu.Sort();
moduleCpu.Sort();
Console.WriteLine($"batch {batchRows} rows (median of 3): raw 2 threads {rawRates[1]:F0} rows/s, module {moduleRates[1]:F0} rows/s, " +
    $"ratio {moduleRates[1] / rawRates[1]:F2}; CPU per row raw {rawCpu[1]:F2} us, module {moduleCpu[1]:F2} us, throughput ratio by CPU " +
    $"{rawCpu[1] / moduleCpu[1]:F2}");
await host.StopAsync();
Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
Directory.Delete(data, recursive: true);

static async IAsyncEnumerable<object?[]> ToAsync(IEnumerable<object?[]> rows)
{
    foreach (var row in rows)
    {
        yield return row;
    }

    await Task.CompletedTask;
}

/// <summary>The hand-written typed baseline: the same twelve columns as a compile-time class.</summary>
internal static class Raw
{
    public static Row From(object?[] r) => new()
    {
        tenure_months = (float)(double)r[0]!,
        monthly_charges = (float)(double)r[1]!,
        total_charges = (float)(double)r[2]!,
        support_calls = (float)(double)r[3]!,
        age = r[4] is double a ? (float)a : float.NaN,
        data_usage_gb = (float)(double)r[5]!,
        contract = (string)r[6]!,
        payment_method = (string)r[7]!,
        paperless_billing = (bool)r[8]! ? 1 : 0,
        has_partner = (bool)r[9]! ? 1 : 0,
        feedback = (string)r[10]!,
        Label = (bool)r[11]!,
    };

    public static IEstimator<ITransformer> Pipeline(MLContext ml)
    {
        string[] numeric =
        [
            "tenure_months", "monthly_charges", "total_charges", "support_calls", "age", "data_usage_gb", "paperless_billing",
            "has_partner",
        ];
        IEstimator<ITransformer> chain = ml.Transforms.ReplaceMissingValues(
            numeric.Select(n => new InputOutputColumnPair(n, n)).ToArray(),
            Microsoft.ML.Transforms.MissingValueReplacingEstimator.ReplacementMode.Mean);
        return chain.Append(ml.Transforms.Categorical.OneHotEncoding("contract"))
            .Append(ml.Transforms.Categorical.OneHotEncoding("payment_method"))
            .Append(ml.Transforms.Text.FeaturizeText("feedback"))
            .Append(ml.Transforms.Concatenate("Features", [.. numeric, "contract", "payment_method", "feedback"]))
            .Append(ml.BinaryClassification.Trainers.FastTree());
    }

    // ML.NET row classes: public fields named after the dataset's columns.
#pragma warning disable IDE1006, CA1707, SA1401
    public class Row : Features
    {
        public bool Label;
    }

    public class Features
    {
        public float tenure_months;
        public float monthly_charges;
        public float total_charges;
        public float support_calls;
        public float age;
        public float data_usage_gb;
        public float paperless_billing;
        public float has_partner;
        public string contract = "";
        public string payment_method = "";
        public string feedback = "";

        public static Features From(Row r) => new()
        {
            tenure_months = r.tenure_months,
            monthly_charges = r.monthly_charges,
            total_charges = r.total_charges,
            support_calls = r.support_calls,
            age = r.age,
            data_usage_gb = r.data_usage_gb,
            paperless_billing = r.paperless_billing,
            has_partner = r.has_partner,
            contract = r.contract,
            payment_method = r.payment_method,
            feedback = r.feedback,
        };
    }

    public sealed class Output
    {
        public bool PredictedLabel;
        public float Score;
        public float Probability;
    }
#pragma warning restore IDE1006, CA1707, SA1401

    public sealed class EnginePolicy(MLContext ml, ITransformer model) : PooledObjectPolicy<PredictionEngine<Features, Output>>
    {
        public override PredictionEngine<Features, Output> Create() => ml.Model.CreatePredictionEngine<Features, Output>(model);

        public override bool Return(PredictionEngine<Features, Output> obj) => true;
    }
}
