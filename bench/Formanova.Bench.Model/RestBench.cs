using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Modules.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

/// <summary>
/// The REST fast path against a constant-JSON minimal-API endpoint in the same host, both under wrk on loopback.
/// The host is built like Formanova.Host's (infrastructure, Model module, camelCase enums) minus request logging.
/// </summary>
internal static class RestBench
{
    public static async Task RunAsync(int seconds)
    {
        var data = Directory.CreateTempSubdirectory("formanova-bench-rest-").FullName;
        await using var app = await StartAsync(data);

        const ModelTask task = ModelTask.BinaryClassification;
        var models = app.Services.GetRequiredService<IModelModule>();
        await models.TrainAsync(
            new TrainModelRequest("bench", "1.0.0", task, SampleData.Columns(task), Activate: true, Seed: 1),
            SampleData.RowsAsync(task, 5000, 1));
        var body = JsonSerializer.Serialize(new { inputs = SampleData.Input(SampleData.Rows(task, 1, 3).First(), task), useCache = false });
        var script = await ScriptAsync(data, "post.lua", body);

        var rates = new List<(string Name, double Rps)>();
        for (var round = 0; round < 2; round++)
        {
            rates.Add(("const", await Wrk("http://127.0.0.1:5099/const", script, seconds)));
            rates.Add(("predict", await Wrk("http://127.0.0.1:5099/api/v1/models/bench/predict", script, seconds)));
        }

        var constant2 = rates.Where(r => r.Name == "const").Max(r => r.Rps);
        var predict = rates.Where(r => r.Name == "predict").Max(r => r.Rps);
        Console.WriteLine($"REST ({seconds} s per run, best of 2, wrk -t1 -c16, POST same body, useCache=false): constant JSON " +
            $"{constant2:F0} req/s, predict {predict:F0} req/s, ratio {predict / constant2:F2}");
        await app.StopAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(data, recursive: true);
    }

    /// <summary>The bench host on 127.0.0.1:5099 with the Model endpoints and a constant-JSON endpoint at <c>/const</c>.</summary>
    public static async Task<WebApplication> StartAsync(string data)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Formanova:DataDirectory"] = data,
            ["Model:Bootstrap:Enabled"] = "false",
        });
        builder.WebHost.UseUrls("http://127.0.0.1:5099");
        builder.Services.AddFormanovaInfrastructure(builder.Configuration).AddModelModule(builder.Configuration);
        builder.Services
            .Configure<JsonOptions>(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase)));
        var app = builder.Build();
        var constant = new { model = "bench", version = "1.0.0", label = "false", score = -1.5, cached = false };
        app.MapGet("/const", () => TypedResults.Ok(constant));
        app.MapPost("/const", () => TypedResults.Ok(constant));
        app.MapGroup("/api/v1").MapModelEndpoints();
        await app.StartAsync();
        return app;
    }

    /// <summary>A wrk script that POSTs <paramref name="body"/> as JSON.</summary>
    public static async Task<string> ScriptAsync(string data, string name, string body)
    {
        var script = Path.Combine(data, name);
        await File.WriteAllTextAsync(
            script,
            $"wrk.method = \"POST\"\nwrk.body = [[{body}]]\nwrk.headers[\"Content-Type\"] = \"application/json\"\n");
        return script;
    }

    public static async Task<double> Wrk(string url, string script, int seconds)
    {
        using var process = Process.Start(
            new ProcessStartInfo("wrk", ["-t1", "-c16", $"-d{seconds}s", "-s", script, url]) { RedirectStandardOutput = true })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        var line = output.Split('\n').First(l => l.StartsWith("Requests/sec:", StringComparison.Ordinal));
        if (output.Contains("Non-2xx", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"wrk saw errors against {url}:\n{output}");
        }

        return double.Parse(line["Requests/sec:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
