using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Formanova.Modules.Data;

namespace Formanova.Tests.Data;

internal static class DataTestSupport
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>A schema exercising every type, role and constraint kind.</summary>
    public static IReadOnlyList<ColumnDefinition> PeopleColumns =>
    [
        new("person id", ColumnType.Text, Nullable: false, ColumnRole.Id),
        new("âge", ColumnType.Numeric, Nullable: false, Constraints: new ColumnConstraints(Min: 0, Max: 130)),
        new("country", ColumnType.Categorical, Constraints: new ColumnConstraints(AllowedValues: ["FR", "DE", "US"])),
        new("member", ColumnType.Boolean),
        new("joined", ColumnType.Datetime),
        new("note, free", ColumnType.Text, Constraints: new ColumnConstraints(MaxLength: 20)),
        new("code", ColumnType.Text, Constraints: new ColumnConstraints(Pattern: "[A-Z]{2}-[0-9]+")),
        new("churned", ColumnType.Boolean, Role: ColumnRole.Label),
    ];

    public const string PeopleHeader = "person id,âge,country,member,joined,\"note, free\",code,churned";

    public static async Task<DatasetDetails> CreateAsync(
        HttpClient client,
        string? name = null,
        IReadOnlyList<ColumnDefinition>? columns = null)
    {
        var response = await client.PostAsJsonAsync(
            "/api/v1/datasets",
            new CreateDatasetRequest(name ?? $"people-{Guid.NewGuid():N}", columns ?? PeopleColumns),
            Json);
        Assert.That((int)response.StatusCode, Is.EqualTo(201), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<DatasetDetails>(Json))!;
    }

    public static StringContent Csv(string text) => new(text, Encoding.UTF8, "text/csv");

    public static ByteArrayContent Bytes(byte[] bytes, string contentType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        return content;
    }

    public static async Task<JsonElement> JsonBodyAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
