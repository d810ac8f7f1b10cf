using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Formanova.Modules.Model;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Model.Api;

/// <summary>The REST surface over the bootstrapped demo model: every bad input is a clear 4xx, never a 500.</summary>
[Category("Integration")]
public sealed class ModelEndpointsTests
{
    private const string ZipWithSignature =
        """{"version":"2.0.0","task":"regression","columns":[{"name":"x","kind":"numeric"}],"signature":{"inputs":[],"outputs":{}}}""";

    private FormanovaFactory _factory = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        _factory = new FormanovaFactory(
            [new("Model:Bootstrap:Rows", "1000"), new("Model:Upload:MaxBytes", "2000000"), new("Model:Inference:MaxBatchRows", "5")]);
        _client = _factory.CreateClient();
        await _factory.Services.GetRequiredService<ModelBootstrapper>().Completed;
    }

    [OneTimeTearDown]
    public void OneTimeTearDown()
    {
        _client.Dispose();
        _factory.Dispose();
    }

    private static string DemoInput => JsonSerializer.Serialize(new { inputs = ModelTestKit.Input(1) });

    private Task<HttpResponseMessage> PostJson(string path, string json) =>
        _client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    [Test]
    public async Task Bootstrap_OnAnEmptyRegistry_ActivatesTheDemoModelThatPredicts()
    {
        var models = await _client.GetFromJsonAsync<JsonElement>("/api/v1/models");
        var response = await PostJson("/api/v1/models/demo-churn/predict", DemoInput);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Multiple(() =>
        {
            Assert.That(models[0].GetProperty("name").GetString(), Is.EqualTo("demo-churn"));
            Assert.That(models[0].GetProperty("activeVersion").GetString(), Is.EqualTo("1.0.0"));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(body.GetProperty("version").GetString(), Is.EqualTo("1.0.0"));
            Assert.That(body.GetProperty("probabilities").GetProperty("true").GetDouble(), Is.InRange(0, 1));
        });
    }

    [Test]
    public async Task GetEndpoints_ReturnModelVersionAndZip()
    {
        var model = await _client.GetAsync("/api/v1/models/demo-churn");
        var version = await _client.GetFromJsonAsync<JsonElement>("/api/v1/models/demo-churn/versions/1.0.0");
        var download = await _client.GetAsync("/api/v1/models/demo-churn/versions/1.0.0/download");

        Assert.Multiple(async () =>
        {
            Assert.That(model.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(version.GetProperty("metrics").GetProperty("auc").GetDouble(), Is.GreaterThan(0.7));
            Assert.That(version.GetProperty("task").GetString(), Is.EqualTo("binaryClassification"));
            Assert.That(download.Content.Headers.ContentType!.MediaType, Is.EqualTo("application/zip"));
            Assert.That((await download.Content.ReadAsByteArrayAsync())[..2], Is.EqualTo("PK"u8.ToArray()));
        });
    }

    [TestCase(
        "/api/v1/models/demo-churn/predict",
        """{"inputs":{"tenure_months":"x","shoe":1},"strict":true}""",
        HttpStatusCode.BadRequest,
        "inputs.shoe")]
    [TestCase(
        "/api/v1/models/demo-churn/predict",
        """{"inputs":{"tenure_months":{"a":1}}}""",
        HttpStatusCode.BadRequest,
        "inputs.tenure_months")]
    [TestCase("/api/v1/models/demo-churn/predict", """{"version":"1.0.0"}""", HttpStatusCode.BadRequest, "inputs")]
    [TestCase(
        "/api/v1/models/demo-churn/predict",
        """{"inputs":{}, "version":"1.0", "alias":null}""",
        HttpStatusCode.BadRequest,
        "version")]
    [TestCase(
        "/api/v1/models/demo-churn/predict",
        """{"inputs":{}, "version":"1.0.0", "alias":"champion"}""",
        HttpStatusCode.BadRequest,
        "alias")]
    [TestCase("/api/v1/models/demo-churn/predict", """{"inputs":{}, "alias":"nobody"}""", HttpStatusCode.NotFound, "nobody")]
    [TestCase("/api/v1/models/demo-churn/predict", """{"inputs":{}, "version":"9.9.9"}""", HttpStatusCode.NotFound, "9.9.9")]
    [TestCase("/api/v1/models/nope/predict", """{"inputs":{}}""", HttpStatusCode.NotFound, "nope")]
    [TestCase("/api/v1/models/..%2F..%2Fetc/predict", """{"inputs":{}}""", HttpStatusCode.BadRequest, "name")]
    [TestCase("/api/v1/models/demo-churn/predict", """{"inputs":""", HttpStatusCode.BadRequest, "JSON")]
    [TestCase("/api/v1/models/demo-churn/predict/batch", """{"rows":[]}""", HttpStatusCode.BadRequest, "rows")]
    [TestCase(
        "/api/v1/models/demo-churn/predict/batch",
        """{"rows":[{},{},{},{},{},{}]}""",
        HttpStatusCode.RequestEntityTooLarge,
        "MaxBatchRows")]
    [TestCase("/api/v1/models/demo-churn/predict/batch", """{"rows":[{"age":"old"}, null]}""", HttpStatusCode.BadRequest, "rows[1]")]
    [TestCase("/api/v1/models/demo-churn/versions/1.0.0/activate", "{}", HttpStatusCode.OK, "active")]
    [TestCase("/api/v1/models/demo-churn/versions/2.0.0/activate", "{}", HttpStatusCode.NotFound, "2.0.0")]
    public async Task Post_WithBadInput_AnswersAClear4xxProblem(string path, string json, HttpStatusCode status, string mention)
    {
        var response = await PostJson(path, json);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(status), body);
            Assert.That(body, Does.Contain(mention));
        });
    }

    [Test]
    public async Task DeleteAndAliases_FollowTheRegistryRules()
    {
        var deleteActive = await _client.DeleteAsync("/api/v1/models/demo-churn/versions/1.0.0");
        var badAlias = await _client.PutAsJsonAsync("/api/v1/models/demo-churn/aliases/a%20b", new { version = "1.0.0" });
        var alias = await _client.PutAsJsonAsync("/api/v1/models/demo-churn/aliases/champion", new { version = "1.0.0" });
        var predict = await PostJson(
            "/api/v1/models/demo-churn/predict",
            JsonSerializer.Serialize(new { inputs = ModelTestKit.Input(1), alias = "champion" }));

        Assert.Multiple(() =>
        {
            Assert.That(deleteActive.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
            Assert.That(badAlias.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(alias.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(predict.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        });
    }

    [Test]
    public async Task Upload_ValidatesTheZipByLoadingItAndRegistersAGoodOne()
    {
        var zip = await _client.GetByteArrayAsync("/api/v1/models/demo-churn/versions/1.0.0/download");
        var metadata = JsonSerializer.Serialize(new
        {
            version = "1.1.0",
            task = "binaryClassification",
            columns = (await _client.GetFromJsonAsync<JsonElement>("/api/v1/models/demo-churn/versions/1.0.0")).GetProperty("columns"),
            notes = "re-uploaded",
        });

        var garbage = await Upload("demo-churn", "not a zip"u8.ToArray(), metadata);
        var noMetadata = await Upload("demo-churn", zip, null);
        var wrongSchema = await Upload(
            "demo-churn",
            zip,
            """{"version":"1.2.0","task":"binaryClassification","columns":[{"name":"x","kind":"numeric"}]}""");
        var tooLarge = await Upload("demo-churn", new byte[2_100_000], metadata);
        var misspelt = await Upload("demo-churn", zip, metadata.Replace("\"notes\"", "\"note\""));
        var good = await Upload("demo-churn", zip, metadata);
        var duplicate = await Upload("demo-churn", zip, metadata);
        var unterminated = new ByteArrayContent(
            "--XYZ\r\nContent-Disposition: form-data; name=\"model\"; filename=\"m.zip\"\r\n\r\nPK"u8.ToArray());
        unterminated.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=XYZ");
        var broken = await _client.PostAsync("/api/v1/models/demo-churn/versions", unterminated);
        var nonFinite = await Upload("demo-churn", zip, metadata.Replace("\"notes\"", "\"metrics\":{\"auc\":\"NaN\"},\"notes\""));

        Assert.Multiple(async () =>
        {
            Assert.That(garbage.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), await garbage.Content.ReadAsStringAsync());
            Assert.That(noMetadata.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(
                wrongSchema.StatusCode,
                Is.EqualTo(HttpStatusCode.UnprocessableEntity),
                await wrongSchema.Content.ReadAsStringAsync());
            Assert.That(tooLarge.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
            Assert.That(misspelt.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await misspelt.Content.ReadAsStringAsync(), Does.Contain("'note'"));
            Assert.That(good.StatusCode, Is.EqualTo(HttpStatusCode.Created), await good.Content.ReadAsStringAsync());
            Assert.That(duplicate.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
            Assert.That(broken.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await broken.Content.ReadAsStringAsync());
            Assert.That(nonFinite.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await nonFinite.Content.ReadAsStringAsync());
            Assert.That(await nonFinite.Content.ReadAsStringAsync(), Does.Contain("$.metrics.auc").And.Not.Contain("System."));
        });
    }

    [TestCase(true, """{"version":"2.0.0"}""", new[] { "metadata.task", "metadata.columns" })]
    [TestCase(false, """{"task":"regression","columns":[{"name":"x","kind":"numeric"}]}""", new[] { "model" })]
    [TestCase(true, ZipWithSignature, new[] { "metadata.signature" })]
    [TestCase(true, null, new[] { "metadata" })]
    [TestCase(true, """{"task":"regression","colums":[]}""", new[] { "metadata" })]
    public async Task Upload_WhenAPartIsMissingOrIncomplete_Returns400NamingEachField(bool withModel, string? metadata, string[] fields)
    {
        var response = await Upload("demo-churn", withModel ? "PK"u8.ToArray() : [], metadata);

        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body);
        var errors = JsonDocument.Parse(body).RootElement.GetProperty("errors");
        Assert.That(errors.EnumerateObject().Select(e => e.Name), Is.EquivalentTo(fields), body);
    }

    private async Task<HttpResponseMessage> Upload(string name, byte[] zip, string? metadata)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(zip);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/zip");
        form.Add(file, "model", "model.zip");
        if (metadata is not null)
        {
            form.Add(new StringContent(metadata), "metadata");
        }

        return await _client.PostAsync($"/api/v1/models/{name}/versions", form);
    }
}
