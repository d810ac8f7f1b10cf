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
                    string? jobId,
                    string? model,
                    DateTimeOffset? from,
                    DateTimeOffset? to,
                    long? cursor,
                    int? limit,
                    IDataModule data,
                    CancellationToken ct) =>
                TypedResults.Ok(await data.QueryResultsAsync(new ResultQuery(jobId, model, from, to, cursor, limit ?? 50), ct)))
            .WithName("QueryResults")
            .ProducesValidationProblem();
    }
}
