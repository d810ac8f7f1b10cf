using System.Buffers;
using System.Threading.Channels;
using Formanova.Modules.Data.Schema;
using Formanova.Modules.Data.Storage;
using Formanova.Modules.Shared.Database;
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

    public ImportReport Build(string importId, long datasetId, int version, ImportErrorMode mode, ImportStatus status, DateTimeOffset started, DateTimeOffset completed) =>
        new(importId, datasetId, version, mode, status, Read, Accepted, Rejected, _errors, _counts, Replayed: false, started, completed);
}

/// <summary>
/// Streams an upload through parsing and validation into the row store inside one transaction, so that an import
/// is all-or-nothing per attempt and its id is recorded atomically with its rows.
/// </summary>
internal sealed class Importer(IDatabase database, DatasetRepository datasets, RowStore rows, IOptions<DataOptions> options, TimeProvider clock)
{
    private const int BatchRows = 512;

    private readonly record struct EncodedRow(long Row, long? EntityHash, byte[] Payload);

    public async Task<ImportReport> ImportAsync(long datasetId, CompiledSchema schema, Stream content, ImportOptions request, string importId, CancellationToken cancellationToken)
    {
        var limits = options.Value.Import;
        var started = clock.GetUtcNow();
        var report = new ReportBuilder(limits.MaxReportedErrors);
        var limited = new LimitedReadStream(content, limits.MaxUploadBytes);
        var source = request.Format switch
        {
            ImportFormat.Csv => RowSources.ReadCsvAsync(limited, schema, request.Delimiter, limits.MaxFieldChars, options.Value.MaxColumns, cancellationToken),
            _ => RowSources.ReadJsonAsync(limited, schema, request.Format == ImportFormat.Ndjson, limits.MaxFieldChars, cancellationToken),
        };

        // Two stages on two threads: parsing, validation and encoding feed a bounded queue of row batches that the
        // database stage drains, so the CPU-bound half overlaps the I/O-bound half and memory stays bounded.
        var queue = Channel.CreateBounded<List<EncodedRow>>(new BoundedChannelOptions(8) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var committing = true;
        var producer = Task.Run(
            async () =>
            {
                try
                {
                    var buffer = new ArrayBufferWriter<byte>(1024);
                    var batch = new List<EncodedRow>(BatchRows);
                    await foreach (var row in source.WithCancellation(stop.Token))
                    {
                        if (report.Read >= limits.MaxRows)
                        {
                            throw new ModuleException(ErrorKind.TooLarge, $"The upload has more than {limits.MaxRows} rows (Data:Import:MaxRows).");
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
                            batch.Add(new EncodedRow(row.Row, schema.EntityHash(row.Values), RowCodec.Encode(row.Values, buffer)));
                            if (batch.Count == BatchRows)
                            {
                                await queue.Writer.WriteAsync(batch, stop.Token);
                                batch = new List<EncodedRow>(BatchRows);
                            }
                        }
                    }

                    if (committing && batch.Count > 0)
                    {
                        await queue.Writer.WriteAsync(batch, stop.Token);
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
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var sink = await rows.BeginWriteAsync(connection, transaction, new RowBatchHeader(datasetId, importId, schema.Version, started), cancellationToken))
            {
                await foreach (var batch in queue.Reader.ReadAllAsync(cancellationToken))
                {
                    foreach (var row in batch)
                    {
                        await sink.WriteAsync(row.Row, row.EntityHash, row.Payload, cancellationToken);
                    }
                }

                await producer;
                if (committing)
                {
                    await sink.CompleteAsync(cancellationToken);
                }
            }

            if (!committing)
            {
                await transaction.RollbackAsync(cancellationToken);
                return report.Build(importId, datasetId, schema.Version, request.OnError, ImportStatus.Rejected, started, clock.GetUtcNow());
            }

            var result = report.Build(importId, datasetId, schema.Version, request.OnError, ImportStatus.Committed, started, clock.GetUtcNow());
            if (!await DatasetRepository.TryRecordImportAsync(connection, transaction, datasetId, importId, DataJson.Serialize(result), result.RowsAccepted, result.CompletedAt, cancellationToken))
            {
                // A concurrent attempt with the same id committed first; its rows stand and ours are dropped.
                await transaction.RollbackAsync(cancellationToken);
                var stored = await datasets.GetImportReportAsync(datasetId, importId, cancellationToken);
                return DataJson.Deserialize<ImportReport>(stored!) with { Replayed = true };
            }

            await transaction.CommitAsync(cancellationToken);
            await rows.RefreshStatisticsAsync(connection, result.RowsAccepted, cancellationToken);
            return result;
        }
    }
}
