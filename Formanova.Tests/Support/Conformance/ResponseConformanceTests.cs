using System.Text;

namespace Formanova.Tests.Support.Conformance;

/// <summary>The conformance check on a small hand-written document: what it lets through and what it catches.</summary>
public sealed class ResponseConformanceTests
{
    private const string Document = """
        {
          "openapi": "3.1.1",
          "info": { "title": "t", "version": "1" },
          "paths": {
            "/api/v1/things/{id}": {
              "get": {
                "responses": {
                  "200": { "description": "ok", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Thing" } } } },
                  "204": { "description": "nothing" },
                  "4XX": {
                    "description": "problem",
                    "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
                  }
                }
              }
            }
          },
          "components": {
            "schemas": {
              "Thing": {
                "type": "object",
                "required": ["id", "name"],
                "properties": { "id": { "type": "integer" }, "name": { "type": "string" } },
                "additionalProperties": false
              },
              "Problem": { "type": "object", "properties": { "status": { "type": "integer" } } }
            }
          }
        }
        """;

    private readonly ResponseConformance _conformance = new(Document);

    private static ObservedResponse Response(int status, string? contentType, string? body) =>
        new("GET", "/api/v1/things/{id}", status, contentType, body is null ? null : Encoding.UTF8.GetBytes(body));

    [TestCase(200, "application/json; charset=utf-8", """{"id":1,"name":"a"}""")]
    [TestCase(204, null, null)]
    [TestCase(404, "application/problem+json", """{"status":404,"traceId":"x"}""")]
    public void Check_WhenTheResponseIsDocumented_Passes(int status, string? contentType, string? body)
    {
        Assert.That(_conformance.Check(Response(status, contentType, body)), Is.Null);
    }

    [Test]
    public void Check_WhenTheStatusIsNotDocumented_ReportsIt()
    {
        var violation = _conformance.Check(Response(500, "application/problem+json", """{"status":500}"""));

        Assert.That(violation, Does.Contain("500").And.Contain("status is not documented"));
    }

    [Test]
    public void Check_WhenTheMediaTypeIsNotDocumented_ReportsIt()
    {
        var violation = _conformance.Check(Response(200, "text/csv", "id,name\n1,a\n"));

        Assert.That(violation, Does.Contain("text/csv").And.Contain("not documented"));
    }

    [TestCase("""{"id":"1","name":"a"}""", "/id")]
    [TestCase("""{"id":1}""", "[\"name\"]")]
    [TestCase("""{"id":1,"name":"a","extra":true}""", "extra")]
    public void Check_WhenTheBodyFailsItsSchema_ReportsWhere(string body, string expected)
    {
        var violation = _conformance.Check(Response(200, "application/json", body));

        Assert.That(violation, Does.Contain("fails its schema").And.Contain(expected));
    }

    [Test]
    public void Check_WhenTheOperationIsNotInTheDocument_Skips()
    {
        var response = new ObservedResponse("POST", "/api/v1/things/{id}", 500, "text/plain", Encoding.UTF8.GetBytes("x"));

        Assert.That(_conformance.Check(response), Is.Null);
    }
}
