using System.Net;
using System.Net.Http.Json;
using Formanova.Host.Dashboard;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Support;
using Formanova.Tests.Workflows;
using Microsoft.Playwright;

namespace Formanova.Tests.Host.Dashboard;

/// <summary>
/// The dashboard in headless Chromium (Debian's <c>chromium</c>, driven by Playwright) against the real host on a free
/// loopback port, with the embedded Temporal server and the demo model. Every page a test opens must log no console
/// error, throw nothing, and ask nothing of any address but loopback. With FORMANOVA_UPDATE_SCREENSHOTS=1 the pages'
/// screenshots are written to docs/images/dashboard-*.png.
/// </summary>
[Category("Integration")]
public sealed class DashboardBrowserTests
{
    public const string ScreenshotVariable = "FORMANOVA_UPDATE_SCREENSHOTS";

    private FormanovaFactory _factory = null!;
    private HttpClient _api = null!;
    private Uri _host = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;
    private long _dataset;
    private string _awaiting = null!;
    private string _readKey = null!;
    private Session? _session;
    private volatile bool _failBatches;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var chromium = HeadlessChromium.ExecutablePath();
        // Batch predictions fail while a test asks them to, so a batch job can be seen failing.
        var faults = new FaultyModelModule
        {
            Before = (operation, _, _, _) => operation == "predictBatch" && _failBatches
                ? throw new ModuleException(ErrorKind.Unprocessable, "The model could not score chunk rows: feature 'contract' exploded.")
                : Task.CompletedTask,
        };
        _factory = WorkflowTestKit.Factory(faults, ("Dashboard:RefreshSeconds", "0.5"));
        _factory.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _factory.StartServer();
        _api = await WorkflowTestKit.ClientAsync(_factory);
        _host = _api.BaseAddress!;
        Assert.That(IPAddress.IsLoopback(IPAddress.Parse(_host.Host)), Is.True, $"the host listens on {_host}");
        _dataset = await WorkflowDatasets.ChurnAsync(_factory.Services, 200);
        _awaiting = await StartAwaitingApprovalAsync("1.0.0");
        _readKey = await DashboardClient.CreateKeyAsync(_factory, "browser-reader", "read");

        // Some traffic for the overview's figures: direct predictions (a repeated row is answered by the cache) and a
        // prediction through its workflow, which closes.
        for (var i = 0; i < 12; i++)
        {
            var input = WorkflowTestKit.ValidInput();
            input["tenure_months"] = (double)(i % 4);
            var predicted = await _api.PostAsJsonAsync($"/api/v1/models/{WorkflowTestKit.DemoModel}/predict", new { inputs = input });
            Assert.That(predicted.StatusCode, Is.EqualTo(HttpStatusCode.OK), await predicted.Content.ReadAsStringAsync());
        }

        var workflow = await _api.PostAsJsonAsync("/api/v1/predictions", WorkflowTestKit.Body());
        Assert.That(workflow.StatusCode, Is.EqualTo(HttpStatusCode.OK), await workflow.Content.ReadAsStringAsync());

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = chromium, Headless = true });
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        _api?.Dispose();
        _factory?.Dispose();
    }

    [TearDown]
    public async Task CloseAsync()
    {
        if (_session is not { } session)
        {
            return;
        }

        _session = null;
        await session.DisposeAsync();
        Assert.Multiple(() =>
        {
            Assert.That(session.Errors, Is.Empty, "the pages logged console errors or threw");
            Assert.That(session.Offsite, Is.Empty, "a page asked for something beyond loopback");
        });
    }

    [Test]
    public async Task SignIn_WhenTheFormIsSentWithAKey_OpensTheOverviewWithTheModelsActiveVersion()
    {
        var page = await OpenAsync(null);
        await page.GotoAsync("/ui");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/ui/sign-in\\?returnUrl=%2Fui$"));
        await ScreenshotAsync(page, "sign-in");

        await page.GetByLabel("API key").FillAsync(FormanovaFactory.AdminKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        await Expect(page).ToHaveURLAsync($"{_host}ui");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview", Exact = true })).ToBeVisibleAsync();
        await Expect(page.Locator($"tr[data-model='{WorkflowTestKit.DemoModel}'] .badge")).ToHaveTextAsync("1.0.0");
        Assert.That(page.Url, Does.Not.Contain(FormanovaFactory.AdminKey));
        await ScreenshotAsync(page, "overview");
    }

    [Test]
    public async Task Overview_WhenAJobStartsWhileItIsOpen_ListsTheJobWithoutAReload()
    {
        var page = await OpenAsync(FormanovaFactory.AdminKey);
        await page.GotoAsync("/ui");
        await Expect(page.Locator("[data-live-status='overview']")).ToHaveTextAsync("Live: updates as it changes.");
        await page.EvaluateAsync("() => { window.notReloaded = true; }");

        var job = await StartPausedJobAsync();

        await Expect(page.Locator($"tr[data-run='{job}']")).ToBeVisibleAsync();
        await Expect(page.Locator($"tr[data-run='{job}']")).ToContainTextAsync("paused");
        Assert.That(await page.EvaluateAsync<bool>("() => window.notReloaded === true"), Is.True, "the page was reloaded");
    }

    [Test]
    public async Task WorkflowPage_WhenATrainingRunAwaitsApproval_ListsItsActivitiesAndApprovesItFromTheButton()
    {
        var run = await StartAwaitingApprovalAsync("2.0.0");
        var page = await OpenAsync(FormanovaFactory.AdminKey);
        await page.GotoAsync(DashboardPaths.Workflow(run));

        await Expect(page.Locator("[data-field='stage']")).ToHaveTextAsync("awaiting-approval");
        foreach (var activity in new[] { "prepare_training_data", "train_model", "validate_model", "register_model" })
        {
            await Expect(page.Locator($"tr[data-step-kind='activity'][data-step='{activity}']")).ToContainTextAsync("completed");
        }

        await ScreenshotAsync(page, "workflow");
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve", Exact = true }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Approve: sent." })).ToBeVisibleAsync();
        await Expect(page.Locator("tr[data-step-kind='signal'][data-step='approve']")).ToBeVisibleAsync();
        await Expect(page.Locator("#status-heading + dl .badge")).ToHaveTextAsync("completed", new() { Timeout = 60_000 });
        await Expect(page.Locator("tr[data-step-kind='activity'][data-step='activate_model']")).ToContainTextAsync("completed");
        await Expect(page.Locator("form[data-action]")).ToHaveCountAsync(0);
    }

    [Test]
    public async Task WorkflowPage_WhenABatchJobFailed_ShowsItsErrorAndTheFailedStep()
    {
        _failBatches = true;
        string id;
        try
        {
            var body = new { model = WorkflowTestKit.DemoModel, datasetId = _dataset, chunkSize = 100 };
            var started = await _api.PostAsJsonAsync("/api/v1/batch-jobs", body);
            Assert.That(started.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await started.Content.ReadAsStringAsync());
            id = (await WorkflowTestKit.ReadAsync(started))["id"]!.GetValue<string>();
            await WorkflowTestKit.PollAsync(_api, $"/api/v1/batch-jobs/{id}", j => j["status"]!.GetValue<string>() == "failed");
        }
        finally
        {
            _failBatches = false;
        }

        var page = await OpenAsync(_readKey);
        await page.GotoAsync(DashboardPaths.Workflow(id));

        await Expect(page.Locator("#status-heading + dl .badge")).ToHaveTextAsync("failed");
        await Expect(page.Locator("[data-field='error']")).ToContainTextAsync("feature 'contract' exploded");
        await Expect(page.Locator("tr[data-step-kind='activity'][data-step='process_chunk']").First).ToContainTextAsync("failed");
        await Expect(page.Locator("[data-live-status='run']")).ToContainTextAsync("closed");
        await ScreenshotAsync(page, "workflow-failed");
    }

    [Test]
    public async Task WorkflowPage_WhenTheKeyIsReadOnly_ShowsNoActionButtons()
    {
        var job = await StartPausedJobAsync();
        var page = await OpenAsync(_readKey);

        foreach (var run in new[] { _awaiting, job })
        {
            await page.GotoAsync(DashboardPaths.Workflow(run));
            await Expect(page.Locator("[data-field='stage']")).ToContainTextAsync(run == job ? "paused" : "awaiting-approval");
            await Expect(page.Locator("form[data-action]")).ToHaveCountAsync(0);
            await Expect(page.Locator("main button")).ToHaveCountAsync(0);
        }
    }

    [Test]
    public async Task Post_WhenItCarriesNoAntiforgeryToken_IsRefusedAndTheRunIsNotApproved()
    {
        var page = await OpenAsync(FormanovaFactory.AdminKey);
        await page.GotoAsync(DashboardPaths.Workflow(_awaiting));
        await Expect(page.Locator("form[data-action='approve']")).ToBeVisibleAsync();

        // The session's cookies, but not the page's token: what a forged form would carry if the cookie were sent at all.
        var form = page.Context.APIRequest.CreateFormData();
        form.Set("comment", "forged");
        var response = await page.Context.APIRequest.PostAsync(
            new Uri(_host, DashboardPaths.Action(_awaiting, "approve")).ToString(),
            new() { Form = form, MaxRedirects = 0 });

        Assert.That(response.Status, Is.EqualTo(400));
        Assert.That(await response.TextAsync(), Does.Contain("Form refused"));
        var run = await _api.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>($"/api/v1/training-runs/{_awaiting}");
        Assert.That(run!["progress"]!["approval"], Is.Null);
    }

    [Test]
    public async Task ModelVersionPage_WhenARowIsTried_ShowsThePredictionBesideTheReportsCharts()
    {
        var page = await OpenAsync(FormanovaFactory.AdminKey);
        await page.GotoAsync(DashboardPaths.Version(WorkflowTestKit.DemoModel, "1.0.0"));
        await Expect(page.Locator("table[data-chart='confusion'] td.diagonal")).ToHaveCountAsync(2);
        await Expect(page.Locator("table[data-chart='importance'] tbody tr").First).ToBeVisibleAsync();

        await page.GetByLabel("tenure_months").FillAsync("2");
        await page.GetByLabel("contract").FillAsync("month-to-month");
        await page.GetByRole(AriaRole.Button, new() { Name = "Predict" }).ClickAsync();

        await Expect(page.Locator("[data-field='try-result']")).ToContainTextAsync("Label");
        await Expect(page.GetByLabel("tenure_months")).ToHaveValueAsync("2");
        await ScreenshotAsync(page, "model-version");
    }

    [Test]
    public async Task DatasetPage_WhenAFileIsUploadedSkippingBadRows_ShowsTheReportWithItsRowErrorsAndTheRows()
    {
        var created = await _api.PostAsJsonAsync("/api/v1/datasets", new
        {
            name = "houses",
            description = "Houses and their prices",
            columns = new object[]
            {
                new { name = "id", type = "numeric", role = "id" },
                new { name = "area", type = "numeric", constraints = new { min = 10 } },
                new { name = "city", type = "categorical" },
                new { name = "price", type = "numeric", role = "label" },
            },
        });
        created.EnsureSuccessStatusCode();
        var id = (await WorkflowTestKit.ReadAsync(created))["id"]!.GetValue<long>();
        var page = await OpenAsync(FormanovaFactory.AdminKey);
        await page.GotoAsync(DashboardPaths.Dataset(id));
        await Expect(page.GetByText("No rows yet")).ToBeVisibleAsync();

        var csv = "id,area,city,price\n1,50,Lyon,200\n2,big,Paris,300\n3,5,Nice,250\n4,80,Nice,410\n";
        await page.GetByLabel("File (CSV, JSON or NDJSON)").SetInputFilesAsync(new FilePayload
        {
            Name = "houses.csv",
            MimeType = "text/csv",
            Buffer = System.Text.Encoding.UTF8.GetBytes(csv),
        });
        await page.GetByLabel("When a row is invalid").SelectOptionAsync("skip");
        await page.GetByRole(AriaRole.Button, new() { Name = "Upload" }).ClickAsync();

        await Expect(page.Locator("[data-field='uploaded']")).ToContainTextAsync("4 rows read, 2 stored, 2 rejected");
        await Expect(page.Locator("[data-field='uploaded'] table tbody tr")).ToHaveCountAsync(2);
        await Expect(page.Locator("[data-field='rows']")).ToHaveTextAsync("2");
        await Expect(page.Locator($"table[data-preview='{id}'] tbody tr")).ToHaveCountAsync(2);
        await ScreenshotAsync(page, "dataset");
    }

    [Test]
    public async Task EventsPage_WhenAnEventIsPublished_ShowsItInTheTailWithoutAReload()
    {
        var page = await OpenAsync(FormanovaFactory.AdminKey);
        await page.GotoAsync(DashboardPaths.Events);
        await Expect(page.Locator("[data-live-status='tail']")).ToHaveTextAsync("Live: updates as it changes.");
        await page.EvaluateAsync("() => { window.notReloaded = true; }");

        var published = await _api.PostAsJsonAsync("/api/v1/events", new
        {
            type = "ORDER_PLACED",
            source = "/shop/orders/1042",
            subject = "order 1042",
            data = new { total = 99.5, items = 3 },
        });
        published.EnsureSuccessStatusCode();
        var sequence = (await WorkflowTestKit.ReadAsync(published))["id"]!.GetValue<string>();

        await Expect(page.Locator($"tr[data-event='{sequence}']")).ToContainTextAsync("ORDER_PLACED");
        Assert.That(await page.EvaluateAsync<bool>("() => window.notReloaded === true"), Is.True, "the page was reloaded");
        await ScreenshotAsync(page, "events");
    }

    [Test]
    public async Task Keyboard_WhenTabbingFromTheTop_ReachesTheSkipLinkFirstAndItLeadsToTheContent()
    {
        var page = await OpenAsync(FormanovaFactory.AdminKey);
        await page.GotoAsync("/ui/workflows");

        await page.Keyboard.PressAsync("Tab");
        await Expect(page.Locator(".skip-link")).ToBeFocusedAsync();
        await Expect(page.Locator(".skip-link")).ToBeInViewportAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("main#main")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Tab");

        Assert.That(await page.EvaluateAsync<bool>("() => document.querySelector('main').contains(document.activeElement)"), Is.True);
        await ScreenshotAsync(page, "workflows");
    }

    [Test]
    public async Task Overview_WhenShownAtPhoneWidth_FitsTheScreenWithoutScrollingSideways()
    {
        var page = await OpenAsync(FormanovaFactory.AdminKey, new() { Width = 390, Height = 844 });
        await page.GotoAsync("/ui");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview", Exact = true })).ToBeVisibleAsync();

        var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");

        Assert.That(overflow, Is.LessThanOrEqualTo(0), "the page is wider than the screen");
        await ScreenshotAsync(page, "overview-phone");
    }

    [Test]
    public async Task SignOut_WhenClicked_EndsTheSessionAndThePagesAskForAKeyAgain()
    {
        var page = await OpenAsync(FormanovaFactory.AdminKey);
        await page.GotoAsync("/ui");

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByLabel("API key")).ToBeVisibleAsync();
        await page.GotoAsync("/ui/workflows");

        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/ui/sign-in\\?returnUrl=%2Fui%2Fworkflows$"));
        Assert.That(await page.Context.CookiesAsync(), Has.None.Matches<BrowserContextCookiesResult>(c => c.Name == "formanova-ui"));
    }

    private static IPageAssertions Expect(IPage page) => Assertions.Expect(page);

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);

    /// <summary>A fresh browser context on the host, signed in with <paramref name="key"/> through the form unless it is null.</summary>
    private async Task<IPage> OpenAsync(string? key, ViewportSize? viewport = null)
    {
        var context = await _browser.NewContextAsync(new()
        {
            BaseURL = _host.ToString(),
            ViewportSize = viewport ?? new ViewportSize { Width = 1280, Height = 800 },
        });
        var page = await context.NewPageAsync();
        var session = new Session(context);
        _session = session;
        await context.RouteAsync("**/*", async route =>
        {
            if (Uri.TryCreate(route.Request.Url, UriKind.Absolute, out var uri) && uri.IsLoopback)
            {
                await route.ContinueAsync();
                return;
            }

            Session.Add(session.Offsite, route.Request.Url);
            await route.AbortAsync("blockedbyclient");
        });
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                Session.Add(session.Errors, $"{page.Url}: {message.Text}");
            }
        };
        page.PageError += (_, error) => Session.Add(session.Errors, $"{page.Url}: {error}");
        if (key is not null)
        {
            await page.GotoAsync(DashboardPaths.SignIn);
            await page.GetByLabel("API key").FillAsync(key);
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Sign out" })).ToBeVisibleAsync();
        }

        return page;
    }

    /// <summary>Keeps the page's screenshot with the test's results, and in docs/images when asked to.</summary>
    private static async Task ScreenshotAsync(IPage page, string name)
    {
        var file = $"dashboard-{name}.png";
        var path = Path.Combine(TestContext.CurrentContext.WorkDirectory, file);
        await page.ScreenshotAsync(new() { Path = path, FullPage = true, Animations = ScreenshotAnimations.Disabled });
        TestContext.AddTestAttachment(path, $"The dashboard's {name} page in headless Chromium");
        if (Environment.GetEnvironmentVariable(ScreenshotVariable) == "1")
        {
            File.Copy(path, Path.Combine(RepositoryFiles.Root(), "docs", "images", file), overwrite: true);
        }
    }

    private Task<string> StartPausedJobAsync() => DashboardRuns.StartPausedJobAsync(_api);

    private Task<string> StartAwaitingApprovalAsync(string version) =>
        DashboardRuns.StartAwaitingApprovalAsync(_api, "churn-dashboard", _dataset, version);

    /// <summary>One browser context, with the errors its pages logged and what they asked beyond loopback.</summary>
    private sealed class Session(IBrowserContext context) : IAsyncDisposable
    {
        public List<string> Errors { get; } = [];

        public List<string> Offsite { get; } = [];

        public static void Add(List<string> list, string entry)
        {
            lock (list)
            {
                list.Add(entry);
            }
        }

        public ValueTask DisposeAsync() => new(context.CloseAsync());
    }
}
