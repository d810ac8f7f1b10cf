using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Formanova.Tests.Model.Onnx;

/// <summary>Uploads and predictions over HTTP, as a client of <c>POST /api/v1/models/{name}/versions</c> sends them.</summary>
internal static class OnnxUploads
{
    /// <summary>The multipart upload: a <c>model</c> file part and, when given, a <c>metadata</c> JSON field.</summary>
    public static async Task<HttpResponseMessage> UploadAsync(
        HttpClient client,
        string name,
        byte[] file,
        object? metadata,
        string fileName = "model.onnx")
    {
        using var form = new MultipartFormDataContent();
        var part = new ByteArrayContent(file);
        part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(part, "model", fileName);
        if (metadata is not null)
        {
            form.Add(new StringContent(metadata as string ?? JsonSerializer.Serialize(metadata, JsonSerializerOptions.Web)), "metadata");
        }

        return await client.PostAsync($"/api/v1/models/{name}/versions", form);
    }

    /// <summary>Uploads and asserts the 201; returns the registered version as the API shows it.</summary>
    public static async Task<JsonObject> RegisterAsync(HttpClient client, string name, byte[] file, object metadata)
    {
        var response = await UploadAsync(client, name, file, metadata);
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.Created), body);
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>POST /predict with one row; asserts the 200 and returns the prediction.</summary>
    public static async Task<JsonObject> PredictAsync(HttpClient client, string name, object inputs, string? version = null)
    {
        var response = await client.PostAsJsonAsync($"/api/v1/models/{name}/predict", new { inputs, version, useCache = false });
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.OK), body);
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>POST /predict/batch; asserts the 200 and returns the predictions in row order.</summary>
    public static async Task<JsonArray> PredictBatchAsync(HttpClient client, string name, IEnumerable<object> rows, string? version = null)
    {
        var response = await client.PostAsJsonAsync($"/api/v1/models/{name}/predict/batch", new { rows, version, useCache = false });
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.OK), body);
        return JsonNode.Parse(body)!["predictions"]!.AsArray();
    }
}
