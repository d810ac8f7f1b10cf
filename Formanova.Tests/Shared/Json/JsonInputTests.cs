using System.Text;
using System.Text.Json;
using Formanova.Modules.Shared.Json;

namespace Formanova.Tests.Shared.Json;

public sealed class JsonInputTests
{
    private static readonly JsonSerializerOptions Rules = new JsonSerializerOptions(JsonSerializerDefaults.Web).AddInputRules();

    private sealed record Body(string? Name, double? Ratio, float Weight, Dictionary<string, object?>? Inputs, JsonElement? Data);

    [TestCase("""{"a":"\ud800"}""", "$.a")]
    [TestCase("""{"a":["ok","x\udc00y"]}""", "$.a[1]")]
    [TestCase("""{"items":[{"x":1},{"the key":"\ud83d"}]}""", "$.items[1]['the key']")]
    [TestCase("""{"n":1e999}""", "$.n")]
    [TestCase("""[1,2,-1e400]""", "$[2]")]
    [TestCase("""{"\ud800":1}""", "$['\\ud800']")]
    public void FindProblem_WhenAValueBreaksARule_NamesItsPath(string json, string path)
    {
        var problem = JsonInput.FindProblem(Encoding.UTF8.GetBytes(json));

        Assert.That(problem?.Path, Is.EqualTo(path));
    }

    [TestCase("""{"a":"\ud83d\ude00","b":1.5e300,"c":[null,true,"plain"]}""")]
    [TestCase("""{"a":"\\ud800"}""")]
    [TestCase("""{"a": tru""")]
    public void FindProblem_WhenTheTextKeepsTheRulesOrIsMalformed_ReportsNothing(string json) =>
        Assert.That(JsonInput.FindProblem(Encoding.UTF8.GetBytes(json)), Is.Null);

    [Test]
    public void FindProblem_WhenAStringHoldsInvalidUtf8Bytes_ReportsIt()
    {
        byte[] json = [.. "{\"a\":\""u8, 0xC3, 0x28, .. "\"}"u8];

        Assert.That(JsonInput.FindProblem(json)?.Reason, Is.EqualTo(JsonInput.InvalidText));
    }

    [TestCase("""{"name":"\ud800"}""", "$.name", JsonInput.InvalidText)]
    [TestCase("""{"ratio":"NaN"}""", "$.ratio", JsonInput.NotFinite)]
    [TestCase("""{"ratio":"-Infinity"}""", "$.ratio", JsonInput.NotFinite)]
    [TestCase("""{"ratio":1e999}""", "$.ratio", JsonInput.NotFinite)]
    [TestCase("""{"weight":1e39}""", "$.weight", JsonInput.NotFinite)]
    [TestCase("""{"inputs":{"f":"\udfff"}}""", "$.inputs.f", JsonInput.InvalidText)]
    [TestCase("""{"inputs":{"f":{"deep":[1e999]}}}""", "$.inputs.f.deep[0]", JsonInput.NotFinite)]
    [TestCase("""{"data":{"a":[1,"\ud800"]}}""", "$.data.a[1]", JsonInput.InvalidText)]
    public void Deserialize_WhenAValueBreaksARule_ThrowsNamingThePathAndReason(string json, string path, string reason)
    {
        var error = Assert.Throws<JsonValueException>(() => JsonSerializer.Deserialize<Body>(json, Rules))!;

        Assert.That(JsonInput.PathOf(error), Is.EqualTo(path));
        Assert.That(JsonProblem.Of(error).Reason, Is.EqualTo(reason));
    }

    [Test]
    public void Deserialize_WhenValuesAreValid_ReadsThemAsTheWebDefaultsDo()
    {
        var body = JsonSerializer.Deserialize<Body>(
            """{"name":"\ud83d\ude00","ratio":"12.5","weight":2,"inputs":{"x":3,"y":"z"},"data":[1]}""",
            Rules)!;

        Assert.That(body.Name, Is.EqualTo("😀"));
        Assert.That(body.Ratio, Is.EqualTo(12.5));
        Assert.That(body.Inputs!["x"], Is.InstanceOf<JsonElement>());
        Assert.That(((JsonElement)body.Inputs["y"]!).GetString(), Is.EqualTo("z"));
        Assert.That(JsonSerializer.Serialize(body, Rules), Does.Contain("\"inputs\":{\"x\":3,\"y\":\"z\"}"));
    }

    [TestCase("""{"a":"\ud800"}""", """{"a":"\uFFFD"}""")]
    [TestCase("""{"a":"x\udc00"}""", """{"a":"x\uFFFD"}""")]
    [TestCase("""{"a":"\ud800\ud800\udc00"}""", """{"a":"\uFFFD\ud800\udc00"}""")]
    [TestCase("""{"a":"\ud83d\ude00"}""", """{"a":"\ud83d\ude00"}""")]
    [TestCase("""{"a":"\\ud800"}""", """{"a":"\\ud800"}""")]
    [TestCase("""{"a":"end\ud800"}""", """{"a":"end\uFFFD"}""")]
    public void RepairLoneSurrogates_WhenTextHasEscapes_ReplacesOnlyLoneSurrogates(string stored, string served)
    {
        var repaired = JsonInput.RepairLoneSurrogates(stored);

        Assert.That(repaired, Is.EqualTo(served));
        Assert.That(JsonInput.FindProblem(Encoding.UTF8.GetBytes(repaired)), Is.Null);
    }
}
