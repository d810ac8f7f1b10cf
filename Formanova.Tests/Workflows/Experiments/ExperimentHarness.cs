using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Training;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Workflows.Experiments;

/// <summary>
/// Drives an experiment through the real host: predictions routed by the Model module, feedback through
/// POST /feedback with outcomes drawn per arm, and the experiment read back through GET /experiments/{name}.
/// </summary>
internal static class ExperimentHarness
{
    public const string Candidate = "1.1.0";

    /// <summary>Trains the candidate version next to the demo model's active 1.0.0.</summary>
    public static async Task TrainCandidateAsync(FormanovaFactory factory)
    {
        const ModelTask task = ModelTask.BinaryClassification;
        var models = factory.Services.GetRequiredService<IModelModule>();
        if ((await models.GetModelAsync(DemoModel)).Versions.Any(v => v.Version == Candidate))
        {
            return;
        }

        await models.TrainAsync(
            new TrainModelRequest(DemoModel, Candidate, task, SampleData.Columns(task), Seed: 11), SampleData.RowsAsync(task, 300, 11));
    }

    public static object Experiment(
        string name,
        long minSamples = 40,
        double alpha = 0.05,
        object? guards = null,
        bool autoPromote = true) => new
        {
            name,
            model = DemoModel,
            arms = new object[]
            {
                new { name = "control", version = "1.0.0", weight = 1 },
                new { name = "candidate", version = Candidate, weight = 1 },
            },
            assignment = "random",
            primaryMetric = "accuracy",
            minSamplesPerArm = minSamples,
            alpha,
            evaluationInterval = "00:00:01",
            guards,
            autoPromote,
        };

    public static async Task<JsonObject> CreateAsync(HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync("/api/v1/experiments", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        return await ReadAsync(response);
    }

    /// <summary>
    /// Sends <paramref name="count"/> predictions, then feedback for each: right with probability
    /// <paramref name="rightRate"/>(arm), wrong otherwise, drawn from <paramref name="random"/>. Feedback that
    /// arrives before the log's writer has stored its prediction is sent again.
    /// </summary>
    public static async Task<Dictionary<string, int>> TrafficAsync(
        HttpClient client,
        int count,
        Func<string, double> rightRate,
        Random random)
    {
        var items = new List<object>();
        var arms = new Dictionary<string, int>();
        for (var i = 0; i < count; i++)
        {
            var body = new { inputs = ValidInput(), useCache = false };
            var response = await client.PostAsJsonAsync($"/api/v1/models/{DemoModel}/predict", body);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
            var prediction = await ReadAsync(response);
            var arm = (string?)prediction["arm"] ?? "none";
            arms[arm] = arms.GetValueOrDefault(arm) + 1;
            var label = (string)prediction["label"]!;
            var right = random.NextDouble() < rightRate(arm);
            var outcome = right ? label : label == "true" ? "false" : "true";
            items.Add(new { predictionId = (string)prediction["predictionId"]!, outcome });
        }

        await SendFeedbackAsync(client, items);
        return arms;
    }

    public static async Task<JsonObject> GetAsync(HttpClient client, string name)
    {
        var response = await client.GetAsync($"/api/v1/experiments/{name}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await ReadAsync(response);
    }

    /// <summary>Polls the experiment until <paramref name="done"/> holds.</summary>
    public static Task<JsonObject> UntilAsync(HttpClient client, string name, Func<JsonObject, bool> done, string what) =>
        PollAsync(client, $"/api/v1/experiments/{name}", done, TimeSpan.FromSeconds(60), what);

    public static string StoredStatus(JsonObject view) => (string)view["experiment"]!["status"]!;

    public static int Looks(JsonObject view) => (int?)view["live"]?["looks"] ?? 0;

    /// <summary>The last look's predictions with feedback of <paramref name="arm"/>.</summary>
    public static long WithFeedback(JsonObject view, string arm) =>
        view["live"]?["last"]?["arms"]?.AsArray().FirstOrDefault(a => (string)a!["name"]! == arm)?["withFeedback"]?.GetValue<long>() ?? 0;

    private static async Task SendFeedbackAsync(HttpClient client, List<object> items)
    {
        var pending = items;
        await WorkflowTestKit.UntilAsync(async () =>
        {
            var response = await client.PostAsJsonAsync("/api/v1/feedback", new { items = pending });
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
            var answer = await ReadAsync(response);
            var unknown = answer["items"]!.AsArray()
                .Where(i => (string)i!["status"]! == "unknown")
                .Select(i => (int)i!["index"]!)
                .ToHashSet();
            pending = [.. pending.Where((_, index) => unknown.Contains(index))];
            return pending.Count == 0;
        }, TimeSpan.FromSeconds(30), "the prediction log to store the predictions");
    }
}
