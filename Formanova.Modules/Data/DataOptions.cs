using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Data;

/// <summary>The <c>Data</c> configuration section.</summary>
internal sealed class DataOptions
{
    public const string SectionName = "Data";

    [Range(1, 10_000)]
    public int MaxColumns { get; set; } = 500;

    [Required]
    [ValidateObjectMembers]
    public ImportLimits Import { get; set; } = new();

    [Range(1, 1_000_000)]
    public int InferSampleRows { get; set; } = 1000;

    [Range(1, 10_000)]
    public int MaxPageSize { get; set; } = 1000;

    /// <summary>Rows per keyset query of a streamed read (training, export, transforms).</summary>
    [Range(1, 10_000_000)]
    public int StreamChunkRows { get; set; } = 50_000;

    /// <summary>Rows per row group of a Parquet export: the rows the writer holds in memory at once.</summary>
    [Range(1, 10_000_000)]
    public int ExportRowGroupRows { get; set; } = 65_536;

    internal sealed class ImportLimits
    {
        /// <summary>Upload size limit for one import (and for infer-schema samples).</summary>
        [Range(1024, long.MaxValue)]
        public long MaxUploadBytes { get; set; } = 1L << 30;

        [Range(1, long.MaxValue)]
        public long MaxRows { get; set; } = 10_000_000;

        /// <summary>A single CSV field or JSON string longer than this fails the whole file.</summary>
        [Range(16, 64 * 1024 * 1024)]
        public int MaxFieldChars { get; set; } = 1024 * 1024;

        /// <summary>Row errors listed in full in a report; the rest only count by reason.</summary>
        [Range(0, 100_000)]
        public int MaxReportedErrors { get; set; } = 100;

        /// <summary>
        /// Most rows one write transaction of an import takes (fewer when they reach 4 MiB encoded). Unset, 5,000 on
        /// SQLite, where it bounds how long an import holds the write lock every other writer waits for, and 50,000
        /// on PostgreSQL, where writers share no lock and each transaction's own cost is what counts.
        /// </summary>
        [Range(1, 1_000_000)]
        public int? CommitRows { get; set; }

        /// <summary>
        /// Most rows of one Parquet row group or Arrow record batch, which an import decodes whole (one at a time).
        /// The default takes the row groups of pyarrow's and pandas' default writers.
        /// </summary>
        [Range(1, int.MaxValue)]
        public int MaxBatchRows { get; set; } = 1_048_576;

        /// <summary>Most uncompressed bytes of one Parquet row group, from the file's metadata, checked before it is decoded.</summary>
        [Range(1024, long.MaxValue)]
        public long MaxBatchBytes { get; set; } = 512L * 1024 * 1024;

        /// <summary>Rows per multi-row INSERT on SQLite (three parameters each, within SQLite's 32,766).</summary>
        [Range(1, 10_000)]
        public int SqliteBatchRows { get; set; } = 64;
    }
}

[OptionsValidator]
internal sealed partial class DataOptionsValidator : IValidateOptions<DataOptions>;
