using System.Net;
using System.Net.Http.Json;
using Formanova.Host.Dashboard;
using Formanova.Host.Dashboard.Access;
using Formanova.Host.Dashboard.Layout;
using Formanova.Tests.Support;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Host.Dashboard.Access;

/// <summary>Sign-in, session and sign-out of the dashboard through the real host's pipeline.</summary>
[Category("Integration")]
public sealed class DashboardSignInTests
{
    private FormanovaFactory _factory = null!;
    private LogCapture _logs = null!;

    [OneTimeSetUp]
    public void Start()
    {
        _logs = new LogCapture();
        _factory = new FormanovaFactory(
            [new("Model:Bootstrap:Enabled", "false"), new("Dashboard:KeyRecheckSeconds", "0")],
            services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(_logs));
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _factory.Dispose();
        _logs.Dispose();
    }

    [Test]
    public async Task SignIn_WhenTheKeyHasTheReadScope_SetsAnHttpOnlyStrictSessionCookieForUiAndOpensTheOverview()
    {
        var key = await CreateKeyAsync("viewer", "read");
        using var client = DashboardClient.Anonymous(_factory);

        var response = await DashboardClient.SignInAsync(client, key, "/ui?from=test");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(response.Headers.Location?.OriginalString, Is.EqualTo("/ui?from=test"));
        var cookie = SessionCookie(response);
        Assert.That(cookie, Does.Contain("httponly").IgnoreCase.And.Contain("samesite=strict").IgnoreCase.And.Contain("path=/ui"));
        Assert.That(cookie, Does.Not.Contain("secure").IgnoreCase, "plain HTTP cannot carry a Secure cookie back");
        Assert.That(cookie, Does.Not.Contain(key));
        var overview = await client.GetAsync("/ui");
        Assert.That(overview.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await overview.Content.ReadAsStringAsync(), Does.Contain("Signed in as <strong>viewer</strong>"));
    }

    [Test]
    public async Task SignIn_WhenServedOverHttps_MarksTheSessionAndAntiforgeryCookiesSecure()
    {
        var key = await CreateKeyAsync("tls", "read");
        using var client = DashboardClient.Anonymous(_factory, "https://localhost");

        var form = await client.GetAsync(DashboardPaths.SignIn);
        var response = await DashboardClient.SignInAsync(client, key);

        var antiforgery = form.Headers.GetValues("Set-Cookie")
            .Single(c => c.StartsWith(DashboardAuthentication.AntiforgeryCookieName, StringComparison.Ordinal));
        Assert.That(antiforgery, Does.Contain("secure"));
        Assert.That(SessionCookie(response), Does.Contain("secure"));
    }

    [TestCase("fnv_not-a-key-at-all-0123456789", HttpStatusCode.Unauthorized, "invalid, revoked or expired")]
    [TestCase("predict", HttpStatusCode.Forbidden, "lacks the read scope")]
    public async Task SignIn_WhenTheKeyIsWrongOrLacksRead_AnswersTheFormWithWhyAndOpensNoSession(
        string keyOrScope,
        HttpStatusCode status,
        string reason)
    {
        var key = keyOrScope.StartsWith("fnv_", StringComparison.Ordinal) ? keyOrScope : await CreateKeyAsync("no-read", keyOrScope);
        using var client = DashboardClient.Anonymous(_factory);

        var response = await DashboardClient.SignInAsync(client, key);

        Assert.That(response.StatusCode, Is.EqualTo(status));
        var html = await response.Content.ReadAsStringAsync();
        Assert.That(html, Does.Contain(reason).And.Not.Contain(key));
        var cookies = response.Headers.TryGetValues("Set-Cookie", out var set) ? set : [];
        Assert.That(cookies, Has.None.StartsWith(DashboardSession.CookieName + "="));
        Assert.That((await client.GetAsync("/ui")).StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
    }

    [Test]
    public async Task Page_WhenNotSignedIn_RedirectsToTheSignInFormWithTheReturnPathOnly()
    {
        using var client = DashboardClient.Anonymous(_factory);

        var response = await client.GetAsync("/ui/workflows/some-run");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(response.Headers.Location?.PathAndQuery, Is.EqualTo("/ui/sign-in?returnUrl=%2Fui%2Fworkflows%2Fsome-run"));
    }

    [Test]
    public async Task LiveStream_WhenNotSignedIn_Answers401InsteadOfARedirect()
    {
        using var client = DashboardClient.Anonymous(_factory);

        var response = await client.GetAsync($"{DashboardPaths.Live}/overview");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task Page_WhenTheKeyIsRevokedAfterSignIn_EndsTheSessionOnTheNextRequest()
    {
        var key = await CreateKeyAsync("revoked-later", "read");
        using var client = await DashboardClient.SignedInAsync(_factory, key);
        Assert.That((await client.GetAsync("/ui")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var id = await KeyIdAsync("revoked-later");
        using var admin = _factory.CreateClient();
        (await admin.DeleteAsync($"/api/v1/keys/{id}")).EnsureSuccessStatusCode();
        var after = await client.GetAsync("/ui");

        Assert.That(after.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(after.Headers.Location?.AbsolutePath, Is.EqualTo(DashboardPaths.SignIn));
    }

    [Test]
    public async Task Api_WhenOnlyTheDashboardCookieIsSent_Answers401()
    {
        using var client = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);

        var response = await client.GetAsync("/api/v1/models");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task SignOut_WhenPostedWithTheToken_EndsTheSession()
    {
        using var client = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);

        var response = await DashboardClient.PostFormAsync(client, "/ui", DashboardPaths.SignOut);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That((await client.GetAsync("/ui")).StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
    }

    [Test]
    public async Task SignOut_WhenPostedWithoutTheTokenOrWithAnotherSessionsToken_IsRefusedAndTheSessionStays()
    {
        using var client = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);
        using var other = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);
        var othersToken = await DashboardClient.TokenAsync(other, "/ui");

        using var bare = new FormUrlEncodedContent([]);
        var withoutToken = await client.PostAsync(DashboardPaths.SignOut, bare);
        using var foreign = new FormUrlEncodedContent(new Dictionary<string, string> { [DashboardPaths.TokenField] = othersToken });
        var withForeignToken = await client.PostAsync(DashboardPaths.SignOut, foreign);

        Assert.That(withoutToken.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(withForeignToken.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await withoutToken.Content.ReadAsStringAsync(), Does.Contain("Form refused"));
        Assert.That((await client.GetAsync("/ui")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Page_WhenServed_CarriesAContentSecurityPolicyThatAllowsOnlyThisHost()
    {
        using var client = await DashboardClient.SignedInAsync(_factory, FormanovaFactory.AdminKey);

        var response = await client.GetAsync("/ui");

        var policy = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.That(policy, Is.EqualTo(DashboardHeaders.ContentSecurityPolicy));
        Assert.That(response.Headers.CacheControl?.NoStore, Is.True);
    }

    [Test]
    public async Task SignIn_WhenAKeyIsPosted_NeverWritesItToTheLog()
    {
        var key = await CreateKeyAsync("logged", "read");
        using var client = DashboardClient.Anonymous(_factory);

        await DashboardClient.SignInAsync(client, key);
        await DashboardClient.SignInAsync(client, key + "x");

        var leaks = _logs.Entries.Where(e => e.Message.Contains(key, StringComparison.Ordinal)).Select(e => e.Message);
        Assert.That(leaks, Is.Empty);
        var requests = _logs.Entries.Where(e => e.Category.Contains("RequestLog", StringComparison.Ordinal));
        Assert.That(requests, Is.Not.Empty, "nothing was logged");
    }

    [Test]
    public void Endpoints_UnderUi_AllNeedTheReadPolicyButTheSignInFormsAndAssets()
    {
        var open = new[] { "/ui/sign-in", "/ui/forbidden", "/ui/assets/{name}" };
        var endpoints = _factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith(DashboardPaths.Root, StringComparison.Ordinal) == true)
            .ToList();

        var unprotected = endpoints
            .Where(e => !open.Contains(e.RoutePattern.RawText))
            .Where(e => e.Metadata.GetMetadata<IAllowAnonymous>() is not null
                || !e.Metadata.GetOrderedMetadata<IAuthorizeData>().Any(a => a.Policy == DashboardAuthentication.ReadPolicy))
            .Select(e => e.RoutePattern.RawText)
            .ToList();

        Assert.That(endpoints, Has.Count.GreaterThan(4));
        Assert.That(unprotected, Is.Empty);
    }

    private static string SessionCookie(HttpResponseMessage response) =>
        response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(DashboardSession.CookieName + "=", StringComparison.Ordinal));

    private Task<string> CreateKeyAsync(string name, params string[] scopes) => DashboardClient.CreateKeyAsync(_factory, name, scopes);

    private async Task<string> KeyIdAsync(string name)
    {
        using var admin = _factory.CreateClient();
        var keys = await admin.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/keys");
        return keys.EnumerateArray().First(k => k.GetProperty("name").GetString() == name).GetProperty("id").GetString()!;
    }
}
