using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Formanova.Tests.Support;
using Microsoft.Playwright;

namespace Formanova.Tests.Host.Api;

/// <summary>
/// Opens the Scalar reference (/scalar) of the real host in headless Chromium (Debian's <c>chromium</c>, driven by
/// Playwright) and checks that a reader sees what /openapi/v1.json says: the texts asserted are read from the live
/// document, so they follow it as descriptions and examples are added. Every request the page makes must go to
/// loopback; any other is aborted and fails the test.
/// </summary>
[Category("Integration")]
public sealed partial class ApiReferencePageTests
{
    /// <summary>Where <c>scripts/screenshot-api-reference.sh</c> asks for the screenshot to be copied.</summary>
    public const string ScreenshotVariable = "FORMANOVA_API_REFERENCE_SCREENSHOT";

    private FormanovaFactory _factory = null!;
    private Uri _host = null!;
    private JsonElement _document;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    [OneTimeSetUp]
    public async Task StartHostAndBrowser()
    {
        var chromium = HeadlessChromium.ExecutablePath();
        _factory = new FormanovaFactory();
        _factory.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _factory.StartServer();
        using var client = _factory.CreateClient();
        _host = client.BaseAddress!;
        Assert.That(IPAddress.IsLoopback(IPAddress.Parse(_host.Host)), Is.True, $"the host listens on {_host}");
        using var json = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        _document = json.RootElement.Clone();

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = chromium, Headless = true });
    }

    [OneTimeTearDown]
    public async Task StopHostAndBrowser()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        _factory?.Dispose();
    }

    [Test]
    public async Task Reference_WhenOpenedInHeadlessChromium_ShowsTheDocumentsTitleTagsDescriptionAndRequestExample()
    {
        var (method, path, operation) = ExampleOperation();
        var summary = operation.GetProperty("summary").GetString()!;
        var description = operation.GetProperty("description").GetString()!;
        var example = ExampleLine(operation)!;
        TestContext.Out.WriteLine($"Checked operation: {method} {path}; example line {example}");
        await using var session = await OpenAsync();
        var page = session.Page;

        var title = _document.GetProperty("info").GetProperty("title").GetString()!;
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = title, Exact = true }).First).ToBeVisibleAsync();
        var sidebar = await page.Locator("aside[aria-label^='Sidebar for']").InnerTextAsync();
        var tags = _document.GetProperty("tags").EnumerateArray().Select(t => t.GetProperty("name").GetString()!).ToList();
        Assert.That(tags, Is.Not.Empty);
        Assert.That(
            tags.Where(tag => !sidebar.Contains(tag, StringComparison.Ordinal)),
            Is.Empty,
            $"tags missing from the sidebar:\n{sidebar}");

        // Scalar's deep link to an operation: #tag/{tag slug}/{METHOD}{path}. It expands the tag and scrolls there.
        var tag = operation.GetProperty("tags")[0].GetString()!;
        await page.GotoAsync(new Uri(_host, $"/scalar/#tag/{Slug(tag)}/{method}{path}").ToString());
        var section = page.Locator($"section[id$='/{method}{path}']");
        await Expect(section).ToBeVisibleAsync();
        var text = await section.InnerTextAsync();
        Assert.That(text, Does.Contain(summary));
        Assert.That(
            Words(text),
            Does.Contain(Words(description)),
            $"the description of {method} {path} is not shown:\n{text}");
        var requestExample = await section.Locator(".request-card").InnerTextAsync();
        Assert.That(requestExample, Does.Contain(example), "the request example is not the document's");

        var screenshot = Path.Combine(TestContext.CurrentContext.WorkDirectory, "api-reference.png");
        await page.ScreenshotAsync(new() { Path = screenshot });
        TestContext.AddTestAttachment(screenshot, "The Scalar reference in headless Chromium");
        if (Environment.GetEnvironmentVariable(ScreenshotVariable) is { Length: > 0 } copy)
        {
            File.Copy(screenshot, copy, overwrite: true);
        }

        Assert.That(session.Offsite, Is.Empty, "the page tried to reach beyond loopback");
        Assert.That(session.Errors, Is.Empty, "the page threw");
    }

    [Test]
    public async Task Reference_WhenABearerKeyIsEntered_SendsATestRequestToThisHostThatAnswers200()
    {
        var schemes = _document.GetProperty("components").GetProperty("securitySchemes");
        Assert.That(
            schemes.EnumerateObject().Any(s => s.Value.GetProperty("type").GetString() == "http"
                && s.Value.GetProperty("scheme").GetString() == "bearer"),
            Is.True,
            "the document declares no bearer scheme");
        await using var session = await OpenAsync();
        var page = session.Page;

        // The key goes in once, on the introduction's Authentication card, as a reader would; the API client takes it.
        await page.GetByLabel("Bearer Token").First.FillAsync(FormanovaFactory.AdminKey);
        await page.GotoAsync(new Uri(_host, "/scalar/#tag/model-registry/GET/api/v1/models").ToString());
        var section = page.Locator("section[id$='/GET/api/v1/models']");
        await section.Locator("button.show-api-client-button").ClickAsync();
        var response = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Send" }).First.ClickAsync(),
            r => r.Url.EndsWith("/api/v1/models", StringComparison.Ordinal));

        Assert.That(response.Status, Is.EqualTo(200));
        Assert.That(await response.Request.HeaderValueAsync("authorization"), Is.EqualTo($"Bearer {FormanovaFactory.AdminKey}"));
        Assert.That(new Uri(response.Url).Authority, Is.EqualTo(_host.Authority), "the request went elsewhere than this host");
        await Expect(page.GetByText("200 OK").First).ToBeVisibleAsync();
        Assert.That(session.Offsite, Is.Empty, "the page tried to reach beyond loopback");
    }

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);

    private async Task<PageSession> OpenAsync()
    {
        var context = await _browser.NewContextAsync(new() { ViewportSize = new() { Width = 1440, Height = 900 } });
        var session = new PageSession(context, await context.NewPageAsync());
        await context.RouteAsync("**/*", async route =>
        {
            if (Uri.TryCreate(route.Request.Url, UriKind.Absolute, out var uri) && uri.IsLoopback)
            {
                await route.ContinueAsync();
                return;
            }

            lock (session.Offsite)
            {
                session.Offsite.Add(route.Request.Url);
            }

            await route.AbortAsync("blockedbyclient");
        });
        session.Page.PageError += (_, error) =>
        {
            lock (session.Errors)
            {
                session.Errors.Add(error);
            }
        };
        await session.Page.GotoAsync(new Uri(_host, "/scalar/").ToString());
        return session;
    }

    /// <summary>
    /// The first operation, in document order, that has a description and a JSON request example: the one the page
    /// is checked on. The document must have one; every operation is meant to.
    /// </summary>
    private (string Method, string Path, JsonElement Operation) ExampleOperation()
    {
        foreach (var path in _document.GetProperty("paths").EnumerateObject())
        {
            foreach (var method in path.Value.EnumerateObject().Where(m => m.Value.ValueKind == JsonValueKind.Object))
            {
                if (method.Value.TryGetProperty("description", out var description) && description.GetString() is { Length: > 0 }
                    && method.Value.TryGetProperty("summary", out _) && method.Value.TryGetProperty("tags", out _)
                    && ExampleLine(method.Value) is not null)
                {
                    return (method.Name.ToUpperInvariant(), path.Name, method.Value);
                }
            }
        }

        Assert.Fail("/openapi/v1.json has no operation with a summary, a description, a tag and a JSON request example");
        return default;
    }

    /// <summary>
    /// A line of the operation's JSON request example as the page prints it (<c>"key": "value"</c>, the first string
    /// leaf), or null without one. A schema-generated sample would show the key with a placeholder, not this value.
    /// </summary>
    private static string? ExampleLine(JsonElement operation)
    {
        if (!operation.TryGetProperty("requestBody", out var body) || !body.TryGetProperty("content", out var content)
            || !content.TryGetProperty("application/json", out var media) || !media.TryGetProperty("example", out var example))
        {
            return null;
        }

        return StringLeaves(example)
            .Where(leaf => !leaf.Value.Any(c => c is '"' or '\'' or '\\' || char.IsControl(c) || c > '~'))
            .Select(leaf => $"\"{leaf.Key}\": \"{leaf.Value}\"")
            .FirstOrDefault();
    }

    private static IEnumerable<(string Key, string Value)> StringLeaves(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => value.EnumerateObject().SelectMany(p => p.Value.ValueKind == JsonValueKind.String
            ? [(p.Name, p.Value.GetString()!)]
            : StringLeaves(p.Value)),
        JsonValueKind.Array => value.EnumerateArray().SelectMany(StringLeaves),
        _ => [],
    };

    /// <summary>The words of a Markdown text, as its rendering reads (link targets dropped): formatting aside, the same.</summary>
    private static string Words(string text) =>
        string.Join(' ', WordPattern().Matches(LinkTarget().Replace(text, "]")).Select(m => m.Value));

    private static string Slug(string tag) => NonWord().Replace(tag.ToLowerInvariant(), "-").Trim('-');

    [GeneratedRegex(@"[\p{L}\p{N}]+")]
    private static partial Regex WordPattern();

    [GeneratedRegex(@"\]\([^)]*\)")]
    private static partial Regex LinkTarget();

    [GeneratedRegex(@"[^a-z0-9]+")]
    private static partial Regex NonWord();

    /// <summary>One browser context and page, with what the page tried beyond loopback and the errors it threw.</summary>
    private sealed class PageSession(IBrowserContext context, IPage page) : IAsyncDisposable
    {
        public IPage Page { get; } = page;

        public List<string> Offsite { get; } = [];

        public List<string> Errors { get; } = [];

        public ValueTask DisposeAsync() => new(context.CloseAsync());
    }
}
