using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model;

internal enum ArtifactStoreKind
{
    Local,
    Database,
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
