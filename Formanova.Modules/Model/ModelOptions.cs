using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model;

internal enum ArtifactStoreKind
{
    Local,
    Database,
}

/// <summary>Where ONNX Runtime runs a version's graph.</summary>
internal enum OnnxExecutionProvider
{
    Cpu,
    Cuda,
}

/// <summary>The <c>Model</c> configuration section.</summary>
internal sealed class ModelOptions
{
    public const string SectionName = "Model";

    /// <summary>Where the registry's files live, relative to <c>Formanova:DataDirectory</c>.</summary>
    [Required]
    public string Directory { get; set; } = "models";

    public ArtifactStoreKind ArtifactStore { get; set; } = ArtifactStoreKind.Local;

    [ValidateObjectMembers]
    public TrainingOptions Training { get; set; } = new();

    [ValidateObjectMembers]
    public InferenceOptions Inference { get; set; } = new();

    [ValidateObjectMembers]
    public UploadOptions Upload { get; set; } = new();

    [ValidateObjectMembers]
    public BootstrapOptions Bootstrap { get; set; } = new();

    [ValidateObjectMembers]
    public OnnxOptions Onnx { get; set; } = new();

    [ValidateObjectMembers]
    public PreloadOptions Preload { get; set; } = new();

    [ValidateObjectMembers]
    public ExperimentOptions Experiments { get; set; } = new();

    internal sealed class TrainingOptions
    {
        [Range(10, 100_000_000)]
        public long MaxRows { get; set; } = 5_000_000;

        /// <summary>Estimated in-memory size of the training table; exceeding it fails with 413 before ML.NET allocates more.</summary>
        [Range(1, 1_000_000)]
        public int MaxMemoryMegabytes { get; set; } = 2048;

        [Range(1, 1000)]
        public int MaxColumns { get; set; } = 64;

        /// <summary>
        /// Test rows the training report's permutation importance scores (the first ones of the test split); 0 leaves
        /// importance out. Its cost is features × <see cref="ImportanceRepeats"/> scorings of this many rows.
        /// </summary>
        [Range(0, 1_000_000)]
        public int ImportanceRows { get; set; } = 2000;

        /// <summary>Seeded shuffles per column for permutation importance; their spread is the importance's StdDev.</summary>
        [Range(1, 100)]
        public int ImportanceRepeats { get; set; } = 3;
    }

    internal sealed class InferenceOptions
    {
        [Range(1, 10_000)]
        public int BatchSize { get; set; } = 32;

        [Range(1, 100_000)]
        public int MaxBatchRows { get; set; } = 10_000;

        /// <summary>How many (model, version) pairs keep their engines loaded; the least recently used is dropped.</summary>
        [Range(1, 1000)]
        public int MaxLoadedModels { get; set; } = 8;

        /// <summary>Engines kept per loaded version; 0 means twice the processor count.</summary>
        [Range(0, 1024)]
        public int EnginesPerModel { get; set; }

        /// <summary>
        /// How long an instance trusts its in-memory copy of the registry (active version, aliases) without re-reading it.
        /// </summary>
        [Range(0, 3600)]
        public int RegistryRefreshSeconds { get; set; } = 5;

        /// <summary>Serve the previous stable version when the active one fails to load or throws.</summary>
        public bool FallbackEnabled { get; set; } = true;
    }

    internal sealed class UploadOptions
    {
        [Range(1024, 4L * 1024 * 1024 * 1024)]
        public long MaxBytes { get; set; } = 100L * 1024 * 1024;
    }

    /// <summary>How ONNX versions are served (docs/configuration.md, "ONNX").</summary>
    internal sealed class OnnxOptions
    {
        /// <summary>
        /// Inference sessions kept per loaded ONNX version, each with its own copy of the graph; a prediction waits for
        /// a free one. 0 means the processor count.
        /// </summary>
        [Range(0, 256)]
        public int SessionsPerModel { get; set; }

        /// <summary>Threads one session uses inside an operator; 1 lets the pooled sessions run side by side.</summary>
        [Range(1, 256)]
        public int IntraOpThreads { get; set; } = 1;

        /// <summary>Threads one session uses to run independent operators at once; 1 runs the graph sequentially.</summary>
        [Range(1, 256)]
        public int InterOpThreads { get; set; } = 1;

        /// <summary>
        /// The CPU memory arena of each session: a single row's run takes about half the time with it. A run of many
        /// rows (a batch chunk) shrinks the arena back when it ends, so a session keeps what one row needs.
        /// </summary>
        public bool MemoryArena { get; set; } = true;

        public OnnxExecutionProvider ExecutionProvider { get; set; } = OnnxExecutionProvider.Cpu;

        /// <summary>The CUDA device sessions run on when <see cref="ExecutionProvider"/> is <c>Cuda</c>.</summary>
        [Range(0, 64)]
        public int GpuDeviceId { get; set; }

        /// <summary>Most feature columns an ONNX version takes (a packed input carries one per position).</summary>
        [Range(1, 100_000)]
        public int MaxColumns { get; set; } = 4096;
    }

    /// <summary>What is loaded ahead of traffic, at start and before a switch (docs/model.md, "Preloading").</summary>
    internal sealed class PreloadOptions
    {
        /// <summary>Load likely versions at start and the incoming version before an activation or alias move.</summary>
        public bool Enabled { get; set; } = true;

        /// <summary>Versions loaded at start, at most; never more than <c>Model:Inference:MaxLoadedModels</c>.</summary>
        [Range(0, 1000)]
        public int MaxVersions { get; set; } = 4;

        /// <summary>Cached predictions copied from L2 into L1 at start, over all preloaded versions.</summary>
        [Range(0, 1_000_000)]
        public int MaxHotKeys { get; set; } = 256;

        /// <summary>Hot keys tracked and stored per version (the heavy-hitters sketch keeps twice as many candidates).</summary>
        [Range(1, 4096)]
        public int HotKeysPerVersion { get; set; } = 64;

        /// <summary>One cacheable lookup in this many is offered to the hot-key sketch; 1 offers every one.</summary>
        [Range(1, 1024)]
        public int HotKeySampling { get; set; } = 8;

        /// <summary>A version accessed within this many hours counts as recent traffic at start.</summary>
        [Range(1, 24 * 365)]
        public int RecentHours { get; set; } = 24;

        /// <summary>How often the access record is written to the database (and once more at shutdown).</summary>
        [Range(1, 86_400)]
        public int FlushSeconds { get; set; } = 60;

        /// <summary>Answer 503 on /health/ready until the start-up preload has finished.</summary>
        public bool HoldReadiness { get; set; }
    }

    internal sealed class ExperimentOptions
    {
        /// <summary>Shadow predictions waiting to be scored, at most; one more is dropped (and counted), never waited for.</summary>
        [Range(1, 1_000_000)]
        public int ShadowQueueCapacity { get; set; } = 1000;

        /// <summary>Shadow predictions scored at once, in the background.</summary>
        [Range(1, 64)]
        public int ShadowConcurrency { get; set; } = 1;
    }

    internal sealed class BootstrapOptions
    {
        public bool Enabled { get; set; } = true;

        [Required]
        public string ModelName { get; set; } = "demo-churn";

        [Range(100, 1_000_000)]
        public int Rows { get; set; } = 4000;

        public int Seed { get; set; } = 42;
    }
}

[OptionsValidator]
internal sealed partial class ModelOptionsValidator : IValidateOptions<ModelOptions>;
