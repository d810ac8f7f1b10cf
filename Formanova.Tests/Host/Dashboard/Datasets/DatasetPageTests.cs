using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Formanova.Host.Dashboard;
using Formanova.Tests.Support;

namespace Formanova.Tests.Host.Dashboard.Datasets;

/// <summary>The dataset pages on the real host: schema, rows, imports with their row errors, and the upload form.</summary>
[Category("Integration")]
public sealed class DatasetPageTests
{
    private const string Header = "id,area,city,price\n";

    private FormanovaFactory _factory = null!;
    private HttpClient _api = null!;

    [OneTimeSetUp]
    public void Start()
    {
        _factory = new FormanovaFactory([new("Model:Bootstrap:Enabled", "false")]);
        _api = _factory.CreateClient();
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _api.Dispose();
        _factory.Dispose();
    }

    [Test]
    public async Task Dataset_WhenOpenedByAReadKey_ShowsItsSchemaRowsAndImportsWithTheirRowErrorsButNoUploadForm()
    {
        var id = await CreateAsync();
        var skip = await _api.PostAsync(
            $"/api/v1/datasets/{id}/rows?format=csv&onError=skip&importId=first",
            new StringContent(Header + "1,50,Lyon,200\n2,big,Paris,300\n3,70,Nice,250\n", Encoding.UTF8, "text/csv"));
        skip.EnsureSuccessStatusCode();
        using var reader = await DashboardClient.SignedInAsync(
            _factory,
            await DashboardClient.CreateKeyAsync(_factory, "data-read", "read"));

        var list = await reader.GetStringAsync(DashboardPaths.Datasets);
        var html = await reader.GetStringAsync(DashboardPaths.Dataset(id));

        Assert.That(list, Does.Contain($"data-dataset=\"{id}\""));
        Assert.That(html, Does.Contain("data-column=\"area\"").And.Contain("data-column=\"price\""));
        Assert.That(html, Does.Contain("<dd data-field=\"rows\">2</dd>"));
        Assert.That(html, Does.Contain("<td>Lyon</td>").And.Contain("<td>Nice</td>"));
        Assert.That(html, Does.Contain("data-import=\"first\"").And.Contain("data-errors=\"first\""));
        Assert.That(html, Does.Match("(?s)data-errors=\"first\".*?<td class=\"num\">2</td>\\s*<td>area</td>"));
        Assert.That(html, Does.Not.Contain("data-action=\"upload\""));
    }

    [Test]
    public async Task Upload_WhenAWriteKeySendsACsv_StoresTheRowsAndShowsTheReport()
    {
        var id = await CreateAsync();
        using var writer = await DashboardClient.SignedInAsync(
            _factory,
            await DashboardClient.CreateKeyAsync(_factory, "data-write", "read", "write"));

        var response = await UploadAsync(writer, id, Header + "1,50,Lyon,200\n2,60,Paris,300\n", "houses.csv", "reject");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var html = await response.Content.ReadAsStringAsync();
        Assert.That(html, Does.Contain("data-field=\"uploaded\"").And.Contain("2 rows read, 2 stored, 0 rejected"));
        var dataset = await _api.GetFromJsonAsync<JsonObject>($"/api/v1/datasets/{id}");
        Assert.That(dataset!["rowCount"]!.GetValue<long>(), Is.EqualTo(2));
    }

    [Test]
    public async Task Upload_WhenARowIsInvalidAndTheImportRejects_Answers422WithTheRowErrorsAndStoresNothing()
    {
        var id = await CreateAsync();
        using var writer = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);

        var response = await UploadAsync(writer, id, Header + "1,50,Lyon,200\n2,big,Paris,300\n", "houses.csv", "reject");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        var html = await response.Content.ReadAsStringAsync();
        Assert.That(html, Does.Contain("Nothing was stored").And.Contain("<td>area</td>"));
        var dataset = await _api.GetFromJsonAsync<JsonObject>($"/api/v1/datasets/{id}");
        Assert.That(dataset!["rowCount"]!.GetValue<long>(), Is.Zero);
    }

    [Test]
    public async Task Upload_WhenTheKeyLacksTheImportsScope_IsRefusedWith403AndStoresNothing()
    {
        var id = await CreateAsync();
        using var reader = await DashboardClient.SignedInAsync(
            _factory,
            await DashboardClient.CreateKeyAsync(_factory, "data-predict", "read", "predict"));

        var response = await UploadAsync(reader, id, Header + "1,50,Lyon,200\n", "houses.csv", "skip");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        var dataset = await _api.GetFromJsonAsync<JsonObject>($"/api/v1/datasets/{id}");
        Assert.That(dataset!["rowCount"]!.GetValue<long>(), Is.Zero);
    }

    private async Task<long> CreateAsync()
    {
        var response = await _api.PostAsJsonAsync("/api/v1/datasets", new
        {
            name = $"houses-{Guid.NewGuid():N}",
            columns = new object[]
            {
                new { name = "id", type = "numeric", role = "id" },
                new { name = "area", type = "numeric" },
                new { name = "city", type = "categorical" },
                new { name = "price", type = "numeric", role = "label" },
            },
        });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
    }

    /// <summary>The upload form as a browser sends it: multipart, with the page's antiforgery token.</summary>
    private static async Task<HttpResponseMessage> UploadAsync(HttpClient client, long id, string csv, string fileName, string onError)
    {
        var token = await DashboardClient.TokenAsync(client, DashboardPaths.Dataset(id));
        using var form = new MultipartFormDataContent
        {
            { new StringContent(token), DashboardPaths.TokenField },
            { new StringContent(""), "format" },
            { new StringContent(onError), "onError" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes(csv)), "file", fileName },
        };
        return await client.PostAsync(DashboardPaths.Upload(id), form);
    }
}
