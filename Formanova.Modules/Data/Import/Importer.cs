using System.Threading.Channels;
using Formanova.Modules.Data.Schema;
using Formanova.Modules.Data.Storage;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Data.Import;

/// <summary>Accumulates an import's outcome: every error counted by reason, the first N kept in full.</summary>
internal sealed class ReportBuilder(int maxReported)
{
    private readonly List<RowError> _errors = [];
    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);

    public long Read { get; private set; }

    public long Accepted { get; private set; }

    public long Rejected { get; private set; }

    public void Accept()
    {
        Read++;
        Accepted++;
    }

    public void Reject(List<RowError> errors)
    {
        Read++;
        Rejected++;
        foreach (var error in errors)
        {
            _counts[error.Reason] = _counts.GetValueOrDefault(error.Reason) + 1;
            if (_errors.Count < maxReported)
            {
                _errors.Add(error);
            }
        }
    }

    public ImportReport Build(
        string importId,
        long datasetId,
        int version,
        ImportErrorMode mode,
        ImportStatus status,
        DateTimeOffset started,
        DateTimeOffset completed) =>
        new(importId, datasetId, version, mode, status, Read, Accepted, Rejected, _errors, _counts, Replayed: false, started, completed);
}

/// <summary>
/// Streams an upload through parsing and validation into the row store in batches of at most
/// Data:Import:CommitRows rows, each written in its own short transaction under an import attempt whose rows stay
/// invisible until one final transaction records the import and shows them all (see <see cref="ImportStaging"/>).
/// An import is therefore all-or-nothing per attempt for every reader, while other writers interleave with it.
/// </summary>
internal sealed class Importer(
    DatasetRepository datasets,
    ImportStaging staging,
    RowStore rows,
    UploadSpool spool,
    IOptions<DataOptions> options,
    TimeProvider clock)
{
    public async Task<ImportReport> ImportAsync(
        long datasetId,
        CompiledSchema schema,
        Stream content,
        ImportOptions request,
        string importId,
        CancellationToken cancellationToken)
    {
        var limits = options.Value.Import;
        var started = clock.GetUtcNow();
        var report = new ReportBuilder(limits.MaxReportedErrors);
        var limited = new LimitedReadStream(content, limits.MaxUploadBytes);
        var source = request.Format switch
        {
            ImportFormat.Csv => RowSources.ReadCsvAsync(
                limited,
                schema,
                request.Delimiter,
                limits.MaxFieldChars,
                options.Value.MaxColumns,
                cancellationToken),
            ImportFormat.Parquet or ImportFormat.Arrow => ColumnarSources.ReadAsync(
                limited,
                request.Format,
                schema,
                spool,
                limits,
                cancellationToken),
            _ => RowSources.ReadJsonAsync(limited, schema, request.Format == ImportFormat.Ndjson, limits.MaxFieldChars, cancellationToken),
        };

        // Two stages on two threads: parsing, validation and encoding fill whole batches that the database stage
        // writes, one short transaction each, so the CPU-bound half overlaps the I/O-bound half. A transaction only
        // starts with a complete batch in hand: it never waits for the upload or for validation while it holds the
        // write lock. One batch queued, one being filled and one being written bound the memory.
        var queue = Channel.CreateBounded<EncodedBatch>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var committing = true;
        var batch = staging.NewBatch();
        var producer = Task.Run(
            async () =>
            {
                try
                {
                    await foreach (var row in source.WithCancellation(stop.Token))
                    {
                        if (report.Read >= limits.MaxRows)
                        {
                            throw new ModuleException(
                                ErrorKind.TooLarge,
                                $"The upload has more than {limits.MaxRows} rows (Data:Import:MaxRows).");
                        }

                        if (row.Errors is { } errors)
                        {
                            report.Reject(errors);
                            // In reject mode one bad row dooms the import: keep validating for the report, stop writing.
                            committing &= request.OnError == ImportErrorMode.Skip;
                            continue;
                        }

                        report.Accept();
                        if (committing)
                        {
                            batch.Add(row.Row, schema.EntityHash(row.Values), row.Values);
                            if (batch.IsFull)
                            {
                                await queue.Writer.WriteAsync(batch.Take(), stop.Token);
                            }
                        }
                    }

                    if (committing && batch.Count > 0)
                    {
                        await queue.Writer.WriteAsync(batch.Take(), stop.Token);
                    }

                    queue.Writer.Complete();
                }
                catch (Exception ex)
                {
                    queue.Writer.TryComplete(ex);
                    throw;
                }
            },
            stop.Token);

        try
        {
            return await ConsumeAsync();
        }
        catch
        {
            await stop.CancelAsync();
            try
            {
                // The producer's failure (a malformed upload, a limit) is the one to report, not the queue's echo of it.
                await producer;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Cancelled by us because the database stage failed: that failure is rethrown below.
            }

            throw;
        }

        async Task<ImportReport> ConsumeAsync()
        {
            // Disposing an attempt that was not published discards its rows, whatever ends the import.
            await using var attempt = await staging.BeginAsync(datasetId, importId, schema.Version, started, cancellationToken);
            await foreach (var full in queue.Reader.ReadAllAsync(cancellationToken))
            {
                await attempt.WriteAsync(full.Rows, cancellationToken);
                batch.Return(full);
            }

            await producer;
            if (!committing)
            {
                await attempt.DiscardAsync();
                return report.Build(
                    importId,
                    datasetId,
                    schema.Version,
                    request.OnError,
                    ImportStatus.Rejected,
                    started,
                    clock.GetUtcNow());
            }

            var result = report.Build(
                importId,
                datasetId,
                schema.Version,
                request.OnError,
                ImportStatus.Committed,
                started,
                clock.GetUtcNow());
            if (!await attempt.PublishAsync(DataJson.Serialize(result), result.RowsAccepted, result.CompletedAt, cancellationToken))
            {
                // A concurrent attempt with the same id committed first; its rows stand and ours were discarded.
                var stored = await datasets.GetImportReportAsync(datasetId, importId, cancellationToken);
                return DataJson.Deserialize<ImportReport>(stored!) with { Replayed = true };
            }

            await rows.RefreshStatisticsAsync(result.RowsAccepted, cancellationToken);
            return result;
        }
    }
}
