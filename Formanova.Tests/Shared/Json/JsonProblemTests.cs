using System.Text.Json;
using System.Text.Json.Serialization;
using Formanova.Modules.Shared.Json;

namespace Formanova.Tests.Shared.Json;

public sealed class JsonProblemTests
{
    // As the API binds bodies (Formanova.Host/Api/ApiSetup.cs).
    private static readonly JsonSerializerOptions Strict = new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    }.AddInputRules();

    private sealed record Item(string Label);

    private sealed record Body(
        string Name,
        int Count,
        string? Colour = null,
        List<Item>? Items = null,
        Item? Inner = null,
        Dictionary<string, Item>? Map = null);

    [TestCase("""{"name":"a","count":1,"colur":"blue"}""", "$.colur", "colur")]
    [TestCase("""{"name":"a","count":1,"items":[{"label":"x"},{"lable":"y"}]}""", "$.items[1].lable", "lable")]
    [TestCase("""{"name":"a","count":1,"inner":{"label":"x","zz":1}}""", "$.inner.zz", "zz")]
    [TestCase("""{"name":"a","count":1,"map":{"k.1":{"label":"x","zz":1}}}""", "$.map['k.1'].zz", "zz")]
    [TestCase("""{"name":"a","count":1,"it's":1}""", "$['it's']", "it's")]
    public void Of_WhenAMemberIsUnknown_NamesItAndItsPath(string json, string path, string field)
    {
        var problem = ProblemOf(json);

        Assert.That(problem.Kind, Is.EqualTo(JsonProblemKind.UnknownField));
        Assert.That(problem.Path, Is.EqualTo(path));
        Assert.That(problem.Fields, Is.EqualTo(new[] { field }));
        Assert.That(problem.Reason, Does.StartWith($"'{field}' is not a field").And.Not.Contain(nameof(Body)));
    }

    [TestCase("""{"colour":"red"}""", "$", new[] { "name", "count" })]
    [TestCase("""{"count":1,"colour":"red","name":"a","inner":{}}""", "$.inner", new[] { "label" })]
    [TestCase("""{"name":"a","count":1,"items":[{"label":"x"},{}]}""", "$.items[1]", new[] { "label" })]
    public void Of_WhenARequiredConstructorParameterIsMissing_NamesItFromTheContract(string json, string path, string[] fields)
    {
        var problem = ProblemOf(json);

        Assert.That(problem.Kind, Is.EqualTo(JsonProblemKind.MissingFields));
        Assert.That(problem.Path, Is.EqualTo(path));
        Assert.That(problem.Fields, Is.EqualTo(fields));
    }

    [TestCase("""{"name":"a","name":"b","count":1}""", "$.name")]
    [TestCase("""{"name":"a","count":1,"inner":{"label":"x","label":"y"}}""", "$.inner.label")]
    [TestCase("""{"name":"a","count":1,"map":{"k":{"label":"x"},"k":{"label":"y"}}}""", "$.map.k")]
    [TestCase("""{"name":"a","count":"many"}""", "$.count")]
    [TestCase("""{"NAME":5,"count":1}""", "$.NAME")]
    [TestCase("""{"name":"a","count":1,"inner":5}""", "$.inner")]
    public void Of_WhenAKnownMemberIsDuplicatedOrHasTheWrongType_IsMalformedAtThatMember(string json, string path)
    {
        var problem = ProblemOf(json);

        Assert.That(problem.Kind, Is.EqualTo(JsonProblemKind.Malformed));
        Assert.That(problem.Path, Is.EqualTo(path));
        Assert.That(problem.Reason, Is.EqualTo(JsonProblem.WrongValue));
        Assert.That(problem.Fields, Is.Empty);
    }

    [TestCase("""{"name":"a","count": tru}""", "$.count", "'tru}' is an invalid JSON literal. Expected the literal 'true'.")]
    [TestCase("""{"name":"a","count":1,"items":[{"label":"x"}""", "$.items[1]", "Expected depth to be zero at the end")]
    public void Of_WhenTheTextIsNotJson_GivesTheReadersReasonAtThePath(string json, string path, string reason)
    {
        var problem = ProblemOf(json);

        Assert.That(problem.Kind, Is.EqualTo(JsonProblemKind.Malformed));
        Assert.That(problem.Path, Is.EqualTo(path));
        Assert.That(problem.Reason, Does.StartWith(reason).And.Not.Contain("LineNumber"));
    }

    [Test]
    public void Of_WhenThereIsNoContract_ReportsNoMembers()
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Body>("""{"name":"a","count":1,"x":1}""", Strict))!;

        var problem = JsonProblem.Of(error);

        Assert.That(problem.Kind, Is.EqualTo(JsonProblemKind.Malformed));
        Assert.That(problem.Path, Is.EqualTo("$.x"));
    }

    private static JsonProblem ProblemOf(string json)
    {
        var error = Assert.Catch<JsonException>(() => JsonSerializer.Deserialize<Body>(json, Strict))!;
        return JsonProblem.Of(error, Strict.GetTypeInfo(typeof(Body)));
    }
}
