using System.ComponentModel;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Formanova.Modules.Data.Api;

internal static class ResultEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGroup("/results").WithTags("Results")
            .MapGet("/", async (
                    [Description("Only the results of this job (a workflow id such as `batch-...`), exactly.")] string? jobId,
                    [Description("Only the results of this model name, exactly.")] string? model,
                    [Description("Only results started at or after this instant (ISO 8601).")] DateTimeOffset? from,
                    [Description("Only results started before this instant (ISO 8601); must be after `from`.")] DateTimeOffset? to,
                    [Description("The `nextCursor` of the previous page; omit for the first page.")] long? cursor,
                    [Description("Results per page, 1 to `Data:MaxPageSize` (1000 by default). Default 50.")] int? limit,
                    IDataModule data,
                    CancellationToken ct) =>
                TypedResults.Ok(await data.QueryResultsAsync(new ResultQuery(jobId, model, from, to, cursor, limit ?? 50), ct)))
            .WithName("QueryResults")
            .WithSummary("Query processing results")
            .WithDescription(
                "The result history workflows record, one item per job and step (a batch job's `chunk-000001`, a training "
                + "run's result, ...), with its status, model, input, output, error and timing, newest first. Filters "
                + "combine. Page by passing the answer's `nextCursor` as `cursor`, with the same filters; `nextCursor` is "
                + "null on the last page. Row-level batch predictions are not here: download them from the batch job.")
            .WithResponseExample(DataExamples.Results)
            .ProducesValidationProblem();
    }
}
