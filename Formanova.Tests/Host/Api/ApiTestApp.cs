using FluentValidation;
using Formanova.Host.Api;
using Formanova.Modules.Shared.Api;
using Formanova.Modules.Shared.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Formanova.Tests.Host.Api;

internal sealed record EchoRequest(string Name, int Count, EchoColour Colour, EchoItem[]? Items = null);

internal sealed record EchoItem(string Label);

internal sealed record EchoValues(double Ratio, Dictionary<string, object?>? Inputs = null, System.Text.Json.JsonElement? Data = null);

internal enum EchoColour
{
    Red,
    Green,
}

internal sealed class EchoRequestValidator : AbstractValidator<EchoRequest>
{
    public EchoRequestValidator()
    {
        RuleFor(r => r.Name).NotEmpty().MaximumLength(20);
        RuleFor(r => r.Count).InclusiveBetween(1, 10);
        RuleForEach(r => r.Items).ChildRules(item => item.RuleFor(i => i.Label).NotEmpty());
    }
}

/// <summary>
/// A Kestrel host on a loopback port with the host's real API conventions (AddFormanovaApi/UseFormanovaApi)
/// and endpoints that exercise each failure path. Kestrel rather than TestServer, because the body-size limit
/// is a Kestrel feature.
/// </summary>
internal sealed class ApiTestApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ApiTestApp(WebApplication app, HttpClient client)
    {
        _app = app;
        Client = client;
    }

    public HttpClient Client { get; }

    public static async Task<ApiTestApp> StartAsync(long maxBodyBytes = 4096)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Critical);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Api:MaxRequestBodyBytes"] = maxBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)
        });
        builder.Services.AddFormanovaApi(builder.Configuration);
        builder.Services.AddScoped<IValidator<EchoRequest>, EchoRequestValidator>();

        var app = builder.Build();
        app.UseFormanovaApi();
        var api = app.MapGroup("/api/v1/echo").WithApiConventions();
        api.MapPost("/", (EchoRequest request) => TypedResults.Ok(request));
        api.MapPost("/values", (EchoValues values) => TypedResults.Ok(values));
        api.MapGet("/missing/{id}", IResult (string id) => id == "x" ? throw ModuleException.NotFound("Thing", id) : TypedResults.Ok());
        api.MapGet("/conflict", IResult () => throw new ModuleException(ErrorKind.Conflict, "Already there."));
        api.MapGet("/crash", IResult () => throw new InvalidOperationException("secret connection string Password=hunter2"));
        api.MapGet("/database/{failure}", IResult (string failure) => throw failure switch
        {
            "unreachable" => new NpgsqlException("Failed to connect to 127.0.0.1:1", new System.Net.Sockets.SocketException(111)),
            "starting" => new PostgresException(
                "the database system is starting up",
                "FATAL",
                "FATAL",
                PostgresErrorCodes.CannotConnectNow),
            "busy" => new Microsoft.Data.Sqlite.SqliteException("database is locked", 5),
            "dependency" => new ModuleException(ErrorKind.Unavailable, "The model store is unavailable."),
            _ => new PostgresException("relation \"missing\" does not exist", "ERROR", "ERROR", PostgresErrorCodes.UndefinedTable),
        });
        await app.StartAsync();

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new ApiTestApp(app, new HttpClient { BaseAddress = new Uri(address) });
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
