using System.Runtime.CompilerServices;
using Formanova.Client.Generated;
using Formanova.Client.Generated.Api.V1;
using Formanova.Client.Generated.Models;
using Formanova.Client.Http;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Abstractions.Serialization;
using Microsoft.Kiota.Http.HttpClientLibrary;
using Microsoft.Kiota.Http.HttpClientLibrary.Middleware.Options;

namespace Formanova.Client;

/// <summary>
/// The Formanova API: <see cref="V1"/> reaches every operation through the request builders that Kiota generated from
/// docs/openapi.json; the methods here add what a generated client leaves to its caller (paging and the event
/// stream as <see cref="IAsyncEnumerable{T}"/>, raw row imports). Every request sends the API key, retries 429, 503
/// and 504 honouring <c>Retry-After</c>, and turns an error answer into a <see cref="FormanovaApiException"/>.
/// </summary>
public sealed class FormanovaClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly HttpClientRequestAdapter _adapter;
    private readonly FormanovaClientOptions _options;
    private readonly string _baseUrl;

    /// <summary>A client of the server at <paramref name="baseUrl"/> (e.g. <c>http://localhost:5000</c>).</summary>
    public FormanovaClient(Uri baseUrl, string apiKey, FormanovaClientOptions? options = null)
        : this(baseUrl, apiKey, new HttpClientHandler(), options)
    {
    }

    /// <summary>
    /// A client whose requests end in <paramref name="finalHandler"/> (a test server's handler, or a handler with
    /// a proxy or certificates of your own); the client disposes it.
    /// </summary>
    public FormanovaClient(Uri baseUrl, string apiKey, HttpMessageHandler finalHandler, FormanovaClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKey);
        ArgumentNullException.ThrowIfNull(finalHandler);
        _options = options ?? new FormanovaClientOptions();
        _baseUrl = baseUrl.ToString().TrimEnd('/');

        // The predicate stops one attempt short of Kiota's own limit, so a request still refused after the last retry
        // comes back as the server's answer (and so as a FormanovaApiException), not as Kiota's AggregateException.
        var maxRetries = _options.MaxRetries;
        var retry = new RetryHandlerOption
        {
            MaxRetry = Math.Max(1, maxRetries),
            Delay = _options.RetryDelaySeconds,
            ShouldRetry = (_, attempt, response) => attempt < maxRetries && (int)response.StatusCode is 429 or 503 or 504,
        };
        var handlers = KiotaClientFactory.CreateDefaultHandlers([retry]);
        handlers.Insert(0, new ReplayableBodyHandler());
        handlers.Add(new ReplayableBodyHandler());
        handlers.Insert(0, new ApiKeyHandler(apiKey, _options.UseBearerToken));
        handlers.Insert(0, new ProblemDetailsHandler());
        var first = KiotaClientFactory.ChainHandlersCollectionAndGetFirstLink(finalHandler, [.. handlers])!;
        _http = new HttpClient(first, disposeHandler: true) { Timeout = _options.Timeout };
        _adapter = new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: _http) { BaseUrl = _baseUrl };
        Generated = new FormanovaApiClient(_adapter);
    }

    /// <summary>The generated client's root.</summary>
    public FormanovaApiClient Generated { get; }

    /// <summary>Every operation under <c>/api/v1</c>, e.g. <c>client.V1.Datasets[id].GetAsync()</c>.</summary>
    public V1RequestBuilder V1 => Generated.Api.V1;

    /// <summary>The event history (<c>GET /api/v1/events</c>), page after page, from <see cref="EventFilter.After"/> on.</summary>
    public IAsyncEnumerable<CloudEvent> ListEventsAsync(
        EventFilter? filter = null,
        int? pageSize = null,
        CancellationToken cancellationToken = default) =>
        Pager.ItemsAsync(
            (after, ct) => V1.Events
                .WithUrl(Url("/api/v1/events", new QueryString().Add("after", after).Add("limit", pageSize).Add(filter)))
                .GetAsync(cancellationToken: ct),
            page => page.Items,
            page => page.NextAfter,
            filter?.After is { } start ? FormanovaValues.Text(start) : null,
            cancellationToken);

    /// <summary>Every row of a dataset (<c>GET /api/v1/datasets/{id}/rows</c>), page after page.</summary>
    public IAsyncEnumerable<DataRow> ReadRowsAsync(long datasetId, int? pageSize = null, CancellationToken cancellationToken = default) =>
        Pager.ItemsAsync(
            (cursor, ct) => V1.Datasets[datasetId].Rows
                .WithUrl(Url($"/api/v1/datasets/{datasetId}/rows", new QueryString().Add("cursor", cursor).Add("limit", pageSize)))
                .GetAsync(cancellationToken: ct),
            page => page.Rows,
            page => page.NextCursor,
            null,
            cancellationToken);

    /// <summary>Stored processing results (<c>GET /api/v1/results</c>), page after page.</summary>
    public IAsyncEnumerable<ProcessingResult> QueryResultsAsync(
        ResultFilter? filter = null,
        int? pageSize = null,
        CancellationToken cancellationToken = default) =>
        Pager.ItemsAsync(
            (cursor, ct) => V1.Results
                .WithUrl(Url("/api/v1/results", new QueryString()
                    .Add("jobId", filter?.JobId).Add("model", filter?.Model).Add("from", filter?.From).Add("to", filter?.To)
                    .Add("cursor", cursor).Add("limit", pageSize)))
                .GetAsync(cancellationToken: ct),
            page => page.Items,
            page => page.NextCursor,
            null,
            cancellationToken);

    /// <summary>Processing jobs, newest first (<c>GET /api/v1/jobs</c>), page after page.</summary>
    public IAsyncEnumerable<JobSummary> ListJobsAsync(
        string? status = null,
        string? type = null,
        int? pageSize = null,
        CancellationToken cancellationToken = default) =>
        Pager.ItemsAsync(
            (token, ct) => V1.Jobs
                .WithUrl(Url("/api/v1/jobs", new QueryString()
                    .Add("status", status).Add("type", type).Add("pageSize", pageSize).Add("pageToken", token)))
                .GetAsync(cancellationToken: ct),
            page => page.Items,
            page => page.NextPageToken,
            null,
            cancellationToken);

    /// <summary>
    /// Imports rows into a dataset (<c>POST /api/v1/datasets/{id}/rows</c>) from <paramref name="content"/> of the
    /// given media type (<c>text/csv</c>, <c>application/x-ndjson</c>, <c>application/vnd.apache.parquet</c>, …).
    /// </summary>
    public async Task<ImportReport?> ImportRowsAsync(
        long datasetId,
        Stream content,
        string contentType = "text/csv",
        string? idempotencyKey = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var request = new RequestInformation { HttpMethod = Method.POST, URI = new Uri(Url($"/api/v1/datasets/{datasetId}/rows")) };
        request.Headers.Add("Accept", "application/json");
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        request.SetStreamContent(content, contentType);
        return await _adapter.SendAsync(request, ImportReport.CreateFromDiscriminatorValue, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The live event stream (<c>GET /api/v1/events/stream</c>, Server-Sent Events). When the connection drops or the
    /// server closes it, the stream reconnects with <c>Last-Event-ID</c> set to the last event received, so the
    /// server resumes right after it: no event is lost or repeated. It ends only when
    /// <paramref name="cancellationToken"/> is cancelled, or after
    /// <see cref="FormanovaClientOptions.StreamMaxReconnectFailures"/> failed reconnects in a row.
    /// </summary>
    public async IAsyncEnumerable<StreamedEvent> StreamEventsAsync(
        EventFilter? filter = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var lastEventId = filter?.After;
        var reconnectDelay = _options.StreamReconnectDelay;
        var failures = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var stream = await OpenStreamAsync(filter, lastEventId, failures, cancellationToken).ConfigureAwait(false);
            if (stream is not null)
            {
                using var reader = new ServerSentEventReader(stream);
                while (await NextAsync(reader, cancellationToken).ConfigureAwait(false) is { } message)
                {
                    reconnectDelay = message.Retry ?? reconnectDelay;
                    if (message.EventType == "closed")
                    {
                        // The server dropped a subscriber that fell behind; its Last-Event-ID hint is ours already.
                        break;
                    }

                    if (message.Data.Length == 0 || !long.TryParse(message.Id, out var sequence))
                    {
                        continue;
                    }

                    failures = 0;
                    lastEventId = sequence;
                    var cloudEvent = await KiotaJsonSerializer
                        .DeserializeAsync(message.Data, CloudEvent.CreateFromDiscriminatorValue, cancellationToken)
                        .ConfigureAwait(false);
                    yield return new StreamedEvent(sequence, cloudEvent!, message.Data);
                }
            }

            failures++;
            if (failures > _options.StreamMaxReconnectFailures)
            {
                throw new IOException($"The event stream could not be resumed after {failures - 1} reconnects in a row.");
            }

            await Task.Delay(reconnectDelay, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _adapter.Dispose();
        _http.Dispose();
    }

    private async Task<Stream?> OpenStreamAsync(EventFilter? filter, long? lastEventId, int failures, CancellationToken cancellationToken)
    {
        var query = new QueryString().Add(filter);
        try
        {
            return await V1.Events.Stream.WithUrl(Url("/api/v1/events/stream", query)).GetAsync(
                request =>
                {
                    request.Headers.Add("Accept", "text/event-stream");
                    if (lastEventId is { } id)
                    {
                        request.Headers.Add("Last-Event-ID", FormanovaValues.Text(id)!);
                    }
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException) when (failures < _options.StreamMaxReconnectFailures)
        {
            return null;
        }
    }

    /// <summary>The next message, or null when the connection ended or broke (the caller then reconnects).</summary>
    private static async Task<ServerSentEvent?> NextAsync(ServerSentEventReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private string Url(string path, QueryString? query = null) => _baseUrl + path + query;
}
