using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Formanova.Tests.Host.Api;

[Category("Integration")]
public sealed class ProblemDetailsTests
{
    private ApiTestApp _app = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _app = await ApiTestApp.StartAsync(maxBodyBytes: 4096);

    [OneTimeTearDown]
    public async Task StopAsync() => await _app.DisposeAsync();

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    [Test]
    public async Task Post_WhenBodyIsValid_EchoesItWithEnumsAsCamelCaseStrings()
    {
        var response = await _app.Client.PostAsync("/api/v1/echo", Json("""{"name":"a","count":2,"colour":"green"}"""));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("\"colour\":\"green\""));
    }

    [Test]
    public async Task Post_WhenJsonIsMalformed_Returns400NamingTheJsonPath()
    {
        var response = await _app.Client.PostAsync("/api/v1/echo", Json("""{"name":"a","count": tru}"""));

        var problem = await ProblemAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("Malformed JSON"));
        Assert.That(problem.GetProperty("errors").TryGetProperty("$.count", out _), Is.True, problem.ToString());
    }

    [Test]
    public async Task Post_WhenAValueHasTheWrongType_Returns400NamingTheField()
    {
        var response = await _app.Client.PostAsync("/api/v1/echo", Json("""{"name":"a","count":"many","colour":"red"}"""));

        var problem = await ProblemAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("$.count"));
    }

    [TestCase("""{"ratio":1,"inputs":{"feedback":"\ud800"}}""", "$.inputs.feedback")]
    [TestCase("""{"ratio":1,"data":{"a":[1,"x\udc00"]}}""", "$.data.a[1]")]
    [TestCase("""{"ratio":"NaN"}""", "$.ratio")]
    [TestCase("""{"ratio":1e999}""", "$.ratio")]
    [TestCase("""{"ratio":1,"inputs":{"x":-1e400}}""", "$.inputs.x")]
    public async Task Post_WhenAValueIsALoneSurrogateOrNotFinite_Returns400NamingItsPath(string body, string path)
    {
        var response = await _app.Client.PostAsync("/api/v1/echo/values", Json(body));

        var problem = await ProblemAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("Invalid value"));
        Assert.That(problem.GetProperty("errors").TryGetProperty(path, out _), Is.True, problem.ToString());
        Assert.That(problem.ToString(), Does.Not.Contain("System."));
    }

    [Test]
    public async Task Post_WhenStringsHoldSurrogatePairs_AcceptsThem()
    {
        var response = await _app.Client.PostAsync("/api/v1/echo/values", Json("""{"ratio":"0.5","inputs":{"f":"\ud83d\ude00"}}"""));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("\"ratio\":0.5"));
    }

    [Test]
    public async Task Post_WhenAPropertyIsDuplicated_Returns400()
    {
        var response = await _app.Client.PostAsync("/api/v1/echo", Json("""{"name":"a","name":"b","count":1,"colour":"red"}"""));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ProblemAsync(response)).GetProperty("title").GetString(), Is.EqualTo("Malformed JSON"));
    }

    [Test]
    public async Task Post_WhenValidationFails_Returns400WithCamelCaseFieldErrors()
    {
        var response = await _app.Client
            .PostAsync("/api/v1/echo", Json("""{"name":"","count":99,"colour":"red","items":[{"label":"ok"},{"label":""}]}"""));

        var errors = (await ProblemAsync(response)).GetProperty("errors");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(errors.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "name", "count", "items[1].label" }));
    }

    [Test]
    public async Task Post_WhenContentTypeIsNotJson_Returns415()
    {
        var response = await _app.Client.PostAsync("/api/v1/echo", new StringContent("name=a", Encoding.UTF8, "text/plain"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        Assert.That((await ProblemAsync(response)).GetProperty("status").GetInt32(), Is.EqualTo(415));
    }

    [Test]
    public async Task Post_WhenTheCharsetIsUnknown_Returns415NamingIt()
    {
        var content = new ByteArrayContent("""{"name":"a","count":1,"colour":"red"}"""u8.ToArray());
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=bogus");

        var response = await _app.Client.PostAsync("/api/v1/echo", content);

        var problem = await ProblemAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType), problem.ToString());
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("'bogus'").And.Contain("UTF-8"));
    }

    [Test]
    public async Task Post_WhenTheCharsetIsAKnownEncoding_ReadsTheBodyInIt()
    {
        var content = new ByteArrayContent(Encoding.Unicode.GetBytes("""{"name":"é","count":1,"colour":"red"}"""));
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=utf-16");

        var response = await _app.Client.PostAsync("/api/v1/echo", content);

        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        using var echoed = JsonDocument.Parse(body);
        Assert.That(echoed.RootElement.GetProperty("name").GetString(), Is.EqualTo("é"));
    }

    [Test]
    public async Task Post_WhenBodyExceedsTheLimit_Returns413()
    {
        var huge = "{\"name\":\"" + new string('x', 10_000) + "\",\"count\":1,\"colour\":\"red\"}";

        var response = await _app.Client.PostAsync("/api/v1/echo", Json(huge));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That((await ProblemAsync(response)).GetProperty("status").GetInt32(), Is.EqualTo(413));
    }

    [Test]
    public async Task Get_WhenRouteIsUnknown_Returns404ProblemDetails()
    {
        var response = await _app.Client.GetAsync("/api/v1/nothing-here");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await ProblemAsync(response)).GetProperty("instance").GetString(), Is.EqualTo("/api/v1/nothing-here"));
    }

    [Test]
    public async Task Delete_WhenMethodIsNotAllowed_Returns405ProblemDetails()
    {
        var response = await _app.Client.DeleteAsync("/api/v1/echo");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.MethodNotAllowed));
        Assert.That((await ProblemAsync(response)).GetProperty("status").GetInt32(), Is.EqualTo(405));
    }

    [TestCase("/api/v1/echo/missing/x", HttpStatusCode.NotFound, "Thing 'x' was not found.")]
    [TestCase("/api/v1/echo/conflict", HttpStatusCode.Conflict, "Already there.")]
    public async Task Get_WhenModuleThrowsModuleException_MapsItsKindToStatus(string path, HttpStatusCode status, string detail)
    {
        var response = await _app.Client.GetAsync(path);

        Assert.That(response.StatusCode, Is.EqualTo(status));
        Assert.That((await ProblemAsync(response)).GetProperty("detail").GetString(), Is.EqualTo(detail));
    }

    [Test]
    public async Task Get_WhenEndpointThrowsUnexpectedly_Returns500WithTraceIdAndNoInternals()
    {
        var response = await _app.Client.GetAsync("/api/v1/echo/crash");

        var body = await response.Content.ReadAsStringAsync();
        var problem = await ProblemAsync(response);
        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
            Assert.That(problem.GetProperty("traceId").GetString(), Has.Length.EqualTo(32));
            Assert.That(body, Does.Not.Contain("hunter2").And.Not.Contain("InvalidOperationException").And.Not.Contain("   at "));
        });
    }

    [Test]
    public async Task Post_WhenJsonIsNestedTooDeeply_Returns400()
    {
        var deep = "{\"name\":\"a\",\"count\":1,\"colour\":\"red\",\"items\":" + string.Concat(Enumerable.Repeat("[", 40))
            + string.Concat(Enumerable.Repeat("]", 40))
            + "}";

        var response = await _app.Client.PostAsync("/api/v1/echo", Json(deep));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task Post_WhenBodyIsEmpty_Returns400()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/echo") { Content = new ByteArrayContent([]) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        var response = await _app.Client.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        await ProblemAsync(response);
    }

    [Test]
    public async Task Post_WhenARequiredFieldIsMissing_Returns400NamingIt()
    {
        var response = await _app.Client.PostAsync("/api/v1/echo", Json("""{"name":"a","colour":"red"}"""));

        var problem = await ProblemAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(problem.GetProperty("errors").TryGetProperty("count", out _), Is.True, problem.ToString());
    }

    [Test]
    public async Task Post_WhenANonNullableFieldIsNull_Returns400NamingIt()
    {
        var response = await _app.Client.PostAsync("/api/v1/echo", Json("""{"name":null,"count":1,"colour":"red"}"""));

        var problem = await ProblemAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("$.name"));
    }

    [Test]
    public async Task Post_WhenAFieldIsUnknown_Returns400NamingItWithoutTheDotNetType()
    {
        var response = await _app.Client.PostAsync("/api/v1/echo", Json("""{"name":"a","count":1,"colour":"red","colur":"blue"}"""));

        var problem = await ProblemAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("Unknown field"));
        Assert.That(problem.GetProperty("errors").TryGetProperty("$.colur", out _), Is.True, problem.ToString());
        Assert.That(problem.ToString(), Does.Not.Contain("EchoRequest"));
    }

    [Test]
    public async Task Post_WhenANestedFieldIsUnknown_Returns400NamingItsPath()
    {
        var response = await _app.Client
            .PostAsync("/api/v1/echo", Json("""{"name":"a","count":1,"colour":"red","items":[{"label":"x"},{"lable":"y"}]}"""));

        var problem = await ProblemAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(problem.GetProperty("errors").EnumerateObject().Single().Name, Is.EqualTo("$.items[1].lable"), problem.ToString());
    }

    [TestCase("unreachable")]
    [TestCase("starting")]
    [TestCase("busy")]
    [TestCase("dependency")]
    public async Task Get_WhenTheDatabaseOrADependencyIsUnavailable_Returns503WithRetryAfter(string failure)
    {
        var response = await _app.Client.GetAsync($"/api/v1/echo/database/{failure}");

        var problem = await ProblemAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), problem.ToString());
        Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(5)));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Not.Contain("127.0.0.1"));
    }

    [Test]
    public async Task Get_WhenTheDatabaseFailsForGood_Returns500WithoutRetryAfter()
    {
        var response = await _app.Client.GetAsync("/api/v1/echo/database/schema");

        await ProblemAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
        Assert.That(response.Headers.RetryAfter, Is.Null);
    }
}
