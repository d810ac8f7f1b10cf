using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Formanova.Modules.Model;
using Formanova.Modules.Model.Inference;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Model.Inference;

/// <summary>
/// Ensembles through the REST API, on each database provider: registration and its refusals, each registered combiner,
/// every serving path, per-member answers and a member's fallback. Members are trained once per fixture on
/// <see cref="EnsembleFixtures"/> rows: <c>left</c> sees a and b, <c>right</c> c and d.
/// </summary>
[Category("Integration")]
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class EnsembleTests(DatabaseProvider provider)
{
    private const ModelTask Binary = ModelTask.BinaryClassification;

    private static readonly List<object?[]> BinaryRows = EnsembleFixtures.Rows(Binary, 600, seed: 1);

    private TestDatabase _db = null!;
    private FormanovaFactory _factory = null!;
    private HttpClient _client = null!;
    private IModelModule _models = null!;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        _db = await TestDatabase.CreateAsync(provider);
        _factory = new FormanovaFactory(_db.Settings.Append(new("Model:Bootstrap:Enabled", "false")));
        _client = _factory.CreateClient();
        _models = _factory.Services.GetRequiredService<IModelModule>();
        await TrainAsync("left", "1.0.0", Binary, ["a", "b"], BinaryRows);
        await TrainAsync("right", "1.0.0", Binary, ["c", "d"], BinaryRows);
        await _models.SetAliasAsync("right", "champion", "1.0.0");
        var regression = EnsembleFixtures.Rows(ModelTask.Regression, 600, seed: 2);
        await TrainAsync("left-value", "1.0.0", ModelTask.Regression, ["a", "b"], regression);
        await TrainAsync("right-value", "1.0.0", ModelTask.Regression, ["c", "d"], regression);
        await _models.TrainAsync(
            new TrainModelRequest("kinds", "1.0.0", Binary, [new("a", ColumnKind.Categorical), EnsembleFixtures.LabelColumn(Binary)]),
            Rows(BinaryRows.Select(r => new object?[] { (double)r[0]! > 0 ? "up" : "down", r[4] })));
        await TrainClassesAsync("three", ["x", "y", "z"]);
        await TrainClassesAsync("two", ["x", "y"]);
    }

    [OneTimeTearDown]
    public async Task OneTimeTearDown()
    {
        _client.Dispose();
        _factory.Dispose();
        await _db.DisposeAsync();
    }

    [Test]
    public async Task RegisterEnsemble_Averaging_IsServedOnEveryPathWithItsMembersAnswers()
    {
        var registered = await RegisterAsync("team", """
            {"version":"1.0.0","members":[{"model":"left","version":"1.0.0"},{"model":"right","alias":"champion"}]}
            """);
        var input = EnsembleFixtures.Input(BinaryRows, 3);
        var left = await _models.PredictAsync(new PredictRequest("left", Inputs(input, "a", "b"), "1.0.0", UseCache: false));
        var right = await _models.PredictAsync(new PredictRequest("right", Inputs(input, "c", "d"), "1.0.0", UseCache: false));

        var direct = await PredictAsync("team", new { inputs = input, version = "1.0.0", includeMembers = true, useCache = false });
        await _client.PostAsync("/api/v1/models/team/versions/1.0.0/activate", null);
        var active = await PredictAsync("team", new { inputs = input });
        var cached = await PredictAsync("team", new { inputs = input });
        var cachedWithMembers = await PredictAsync("team", new { inputs = input, includeMembers = true });
        var alias = await _client.PutAsJsonAsync("/api/v1/models/team/aliases/prod", new { version = "1.0.0" });
        var byAlias = await PredictAsync("team", new { inputs = input, alias = "prod", useCache = false });
        var rows = new[] { 3, 4, 5 }.Select(i => EnsembleFixtures.Input(BinaryRows, i)).ToArray();
        var batch = await ReadAsync(await _client.PostAsJsonAsync(
            "/api/v1/models/team/predict/batch", new { rows, includeMembers = true, useCache = false }));
        var positional = await _models.PredictRowsAsync(
            new PredictRowsRequest("team", EnsembleFixtures.Features, [.. rows.Select(r => r.Values.ToArray())]));
        var onnx = await _client.GetAsync("/api/v1/models/team/versions/1.0.0/onnx");
        var artifact = await _client.GetByteArrayAsync("/api/v1/models/team/versions/1.0.0/download");

        var mean = (left.Probabilities!["true"] + right.Probabilities!["true"]) / 2;
        var members = direct["members"]!.AsArray();
        Assert.Multiple(async () =>
        {
            Assert.That((string?)registered["framework"], Is.EqualTo("ensemble"));
            Assert.That((string?)registered["ensemble"]!["members"]![1]!["version"], Is.EqualTo("1.0.0"), "the alias is pinned");
            Assert.That((string?)registered["ensemble"]!["members"]![1]!["alias"], Is.EqualTo("champion"));
            Assert.That(registered["columns"]!.AsArray().Select(c => (string?)c!["name"]), Is.EqualTo(EnsembleFixtures.Features));
            Assert.That((double)direct["probabilities"]!["true"]!, Is.EqualTo(mean).Within(1e-6), "soft voting");
            Assert.That((string?)direct["label"], Is.EqualTo(mean >= 0.5 ? "true" : "false"));
            Assert.That(
                members.Select(m => ((string?)m!["model"], (string?)m["version"])),
                Is.EqualTo(new[] { ("left", "1.0.0"), ("right", "1.0.0") }));
            Assert.That((double)members[0]!["probabilities"]!["true"]!, Is.EqualTo(left.Probabilities["true"]).Within(1e-6));
            Assert.That((double)members[1]!["probabilities"]!["true"]!, Is.EqualTo(right.Probabilities["true"]).Within(1e-6));
            Assert.That((double)active["probabilities"]!["true"]!, Is.EqualTo(mean).Within(1e-6));
            Assert.That(active.ContainsKey("members"), Is.False, "members only when asked");
            Assert.That(((bool)cached["cached"]!, (bool)cachedWithMembers["cached"]!), Is.EqualTo((true, true)));
            Assert.That(cachedWithMembers["members"]!.AsArray(), Has.Count.EqualTo(2), "a cached answer keeps its members");
            Assert.That(alias.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That((double)byAlias["probabilities"]!["true"]!, Is.EqualTo(mean).Within(1e-6));
            Assert.That(batch["predictions"]!.AsArray().Select(p => p!["members"]!.AsArray().Count), Is.All.EqualTo(2));
            Assert.That((double)batch["predictions"]![0]!["probabilities"]!["true"]!, Is.EqualTo(mean).Within(1e-6));
            Assert.That(positional.Labels, Is.EqualTo(batch["predictions"]!.AsArray().Select(p => (string?)p!["label"])));
            Assert.That(onnx.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
            Assert.That(await onnx.Content.ReadAsStringAsync(), Does.Contain("ensemble"));
            Assert.That(Convert.ToHexStringLower(SHA256.HashData(artifact)), Is.EqualTo((string?)registered["sha256"]));
        });
    }

    [Test]
    public async Task RegisterEnsemble_Weighted_WeighsEachMembersProbabilities()
    {
        await RegisterAsync("weighted", """
            {"version":"1.0.0","combiner":"weighted",
             "members":[{"model":"left","version":"1.0.0","weight":3},{"model":"right","version":"1.0.0","weight":1}]}
            """);
        var answer = await PredictAsync(
            "weighted",
            new { inputs = EnsembleFixtures.Input(BinaryRows, 7), version = "1.0.0", includeMembers = true });

        var members = answer["members"]!.AsArray().Select(m => ((double)m!["weight"]!, (double)m["probabilities"]!["true"]!)).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(members.Select(m => m.Item1), Is.EqualTo(new[] { 3.0, 1.0 }));
            Assert.That(
                (double)answer["probabilities"]!["true"]!,
                Is.EqualTo((0.75 * members[0].Item2) + (0.25 * members[1].Item2)).Within(1e-6));
        });
    }

    [Test]
    public async Task RegisterEnsemble_AveragingRegression_AveragesTheMembersValues()
    {
        await RegisterAsync("value", """
            {"version":"1.0.0","members":[{"model":"left-value","version":"1.0.0"},{"model":"right-value","version":"1.0.0"}]}
            """);
        var answer = await PredictAsync(
            "value",
            new { inputs = EnsembleFixtures.Input(BinaryRows, 9), version = "1.0.0", includeMembers = true });

        var values = answer["members"]!.AsArray().Select(m => (double)m!["value"]!).ToList();
        Assert.That((double)answer["value"]!, Is.EqualTo(values.Average()).Within(1e-4));
    }

    private static IEnumerable<TestCaseData> Refusals()
    {
        const string Left = """{"model":"left","version":"1.0.0"}""";
        const string Right = """{"model":"right","version":"1.0.0"}""";
        TestCaseData Case(string name, string members, string field, string extra = "") =>
            new TestCaseData($$"""{"version":"1.0.0"{{extra}},"members":[{{members}}]}""", field).SetName(
                $"RegisterEnsemble_{name}_IsA400NamingTheFieldAndStoresNothing");
        yield return Case("WithOneMember", Left, "members");
        yield return Case("WithNineMembers", string.Join(',', Enumerable.Repeat(Left, 9)), "members");
        yield return Case("WithAnUnknownVersion", $$"""{{Left}},{"model":"right","version":"9.0.0"}""", "members[1].version");
        yield return Case("WithAnUnknownAlias", $$"""{{Left}},{"model":"right","alias":"nobody"}""", "members[1].alias");
        yield return Case("WithAnUnknownModel", $$"""{{Left}},{"model":"nothing"}""", "members[1].model");
        yield return Case(
            "WithVersionAndAlias",
            $$"""{{Left}},{"model":"right","version":"1.0.0","alias":"champion"}""",
            "members[1].alias");
        yield return Case("WithTheSameMemberTwice", $"{Left},{Left}", "members[1].version");
        yield return Case("WithAnotherTask", $$"""{{Left}},{"model":"left-value","version":"1.0.0"}""", "members[1].version");
        yield return Case("WithASharedColumnOfAnotherKind", $$"""{{Left}},{"model":"kinds","version":"1.0.0"}""", "members[1].version");
        yield return Case(
            "WithAnotherClassSet",
            """{"model":"three","version":"1.0.0"},{"model":"two","version":"1.0.0"}""",
            "members[1].version");
        yield return Case(
            "WithAWeightButNoWeightedCombiner",
            $$"""{"model":"left","version":"1.0.0","weight":2},{{Right}}""",
            "members[0].weight");
        yield return Case(
            "WeightedWithANegativeWeight",
            $$"""{"model":"left","version":"1.0.0","weight":-1},{"model":"right","version":"1.0.0","weight":1}""",
            "members[0].weight",
            ""","combiner":"weighted" """);
        yield return Case("WeightedWithAMissingWeight", $"{Left},{Right}", "members[0].weight", ""","combiner":"weighted" """);
        yield return Case("Stacking", $"{Left},{Right}", "combiner", ""","combiner":"stacking" """);
    }

    [TestCaseSource(nameof(Refusals))]
    public async Task RegisterEnsemble_Refused(string body, string field)
    {
        var response = await _client.PostAsync(
            "/api/v1/models/refused/ensembles",
            new StringContent(body, Encoding.UTF8, "application/json"));
        var problem = await ReadAsync(response, HttpStatusCode.BadRequest);
        var after = await _client.GetAsync("/api/v1/models/refused");

        Assert.Multiple(() =>
        {
            Assert.That(problem["errors"]!.AsObject().Select(e => e.Key), Does.Contain(field), problem.ToJsonString());
            Assert.That(after.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "nothing is registered");
        });
    }

    [Test]
    public async Task RegisterEnsemble_ThatAMemberContains_IsRefusedAsACycle()
    {
        await TrainAsync("inner", "1.0.0", Binary, ["a", "b"], BinaryRows);
        await RegisterAsync(
            "outer",
            """{"version":"1.0.0","members":[{"model":"inner","version":"1.0.0"},{"model":"right","version":"1.0.0"}]}""");
        await _models.DeleteVersionAsync("inner", "1.0.0");

        var response = await _client.PostAsJsonAsync("/api/v1/models/inner/ensembles", new
        {
            version = "1.0.0",
            members = new object[] { new { model = "outer", version = "1.0.0" }, new { model = "left", version = "1.0.0" } },
        });
        var problem = await ReadAsync(response, HttpStatusCode.BadRequest);

        Assert.Multiple(async () =>
        {
            Assert.That(problem["errors"]!["members[0].version"]!.ToJsonString(), Does.Contain("cannot contain itself"));
            Assert.That((await _client.GetAsync("/api/v1/models/inner")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        });
    }

    [Test]
    public async Task Predict_WhenAMemberCannotLoad_ItsPreviousStableVersionAnswersForItAndSaysSo()
    {
        await TrainAsync("side", "1.0.0", Binary, ["a", "b"], BinaryRows, activate: true);
        await TrainAsync("side", "2.0.0", Binary, ["a", "b"], EnsembleFixtures.Rows(Binary, 600, seed: 5), activate: true);
        await RegisterAsync(
            "patched",
            """{"version":"1.0.0","members":[{"model":"side","version":"2.0.0"},{"model":"right","version":"1.0.0"}]}""");
        var input = EnsembleFixtures.Input(BinaryRows, 11);
        var previous = await _models.PredictAsync(new PredictRequest("side", Inputs(input, "a", "b"), "1.0.0", UseCache: false));
        var registry = _factory.Services.GetRequiredService<ModelRegistry>();
        var runtime = _factory.Services.GetRequiredService<ModelRuntime>();
        runtime.UnloadAll("side");
        runtime.UnloadAll("patched");
        File.WriteAllBytes(Path.Combine(registry.VersionFolder("side", "2.0.0"), "model.zip"), [1, 2, 3]);

        var answer = await PredictAsync("patched", new { inputs = input, version = "1.0.0", includeMembers = true, useCache = false });
        var batchBody = new { rows = new[] { input }, version = "1.0.0", includeMembers = true, useCache = false };
        var batch = await ReadAsync(await _client.PostAsJsonAsync("/api/v1/models/patched/predict/batch", batchBody));

        var member = answer["members"]![0]!;
        Assert.Multiple(() =>
        {
            Assert.That((string?)answer["version"], Is.EqualTo("1.0.0"));
            Assert.That(answer["fallbackFrom"], Is.Null, "the ensemble itself did not fall back");
            Assert.That(((string?)member["version"], (string?)member["fallbackFrom"]), Is.EqualTo(("1.0.0", "2.0.0")));
            Assert.That((string?)member["fallbackReason"], Does.Contain("checksum"));
            Assert.That((double)member["probabilities"]!["true"]!, Is.EqualTo(previous.Probabilities!["true"]).Within(1e-6));
            Assert.That((string?)batch["predictions"]![0]!["members"]![0]!["fallbackFrom"], Is.EqualTo("2.0.0"));
            Assert.That((string?)answer["members"]![1]!["fallbackFrom"], Is.Null);
        });
    }

    private static Dictionary<string, object?> Inputs(Dictionary<string, object?> input, params string[] keys) =>
        keys.ToDictionary(k => k, k => input[k]);

    private static async IAsyncEnumerable<object?[]> Rows(IEnumerable<object?[]> rows)
    {
        foreach (var row in rows)
        {
            yield return row;
        }

        await Task.CompletedTask;
    }

    private static async Task<JsonObject> ReadAsync(HttpResponseMessage response, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(expected), text);
        return JsonNode.Parse(text)!.AsObject();
    }

    private Task TrainAsync(string name, string version, ModelTask task, string[] features, List<object?[]> rows, bool activate = false) =>
        _models.TrainAsync(
            new TrainModelRequest(name, version, task, EnsembleFixtures.Columns(task, features), Seed: 3, Activate: activate),
            EnsembleFixtures.Project(rows, features));

    private Task TrainClassesAsync(string name, string[] classes) =>
        _models.TrainAsync(
            new TrainModelRequest(
                name,
                "1.0.0",
                ModelTask.MulticlassClassification,
                [new("a", ColumnKind.Numeric), new("b", ColumnKind.Numeric), new("k", ColumnKind.Categorical, IsLabel: true)]),
            Rows(BinaryRows.Select(r => new object?[]
            {
                r[0], r[1], classes[(int)Math.Clamp(Math.Floor(((double)r[0]! + 1.5) / 3 * classes.Length), 0, classes.Length - 1)],
            })));

    private async Task<JsonObject> RegisterAsync(string name, string body) =>
        await ReadAsync(
            await _client.PostAsync($"/api/v1/models/{name}/ensembles", new StringContent(body, Encoding.UTF8, "application/json")),
            HttpStatusCode.Created);

    private async Task<JsonObject> PredictAsync(string name, object body) =>
        await ReadAsync(await _client.PostAsJsonAsync($"/api/v1/models/{name}/predict", body));
}
