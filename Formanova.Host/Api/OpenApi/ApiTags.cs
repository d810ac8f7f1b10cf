namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// The description of every tag an endpoint group uses, in one place. The document lists them in this order; a tag
/// used by an endpoint but missing here fails the document (and so the snapshot test).
/// </summary>
internal static class ApiTags
{
    public static IReadOnlyList<(string Name, string Description)> All { get; } =
    [
        ("API keys", "Create, list and revoke the API keys that authenticate every call, each with its scopes. Admin only."),
        ("Datasets", "Datasets with versioned schemas: import rows (CSV, JSON, NDJSON, Parquet, Arrow), read, query, "
            + "export and materialize them."),
        // Not "Models": Scalar's reference lists the schemas under that name.
        ("Model registry", "The model registry: upload, download, activate, archive and alias versions of ML.NET models."),
        ("Training", "Training runs: a workflow that prepares a dataset, trains, evaluates, and registers a model version, "
            + "optionally waiting for an approval; training schedules for periodic retraining."),
        ("Promotions", "Promotions: a workflow that checks a model version against its gates and activates it."),
        ("Monitoring", "Model monitoring: drift and performance checks against the training profile, and a policy's actions."),
        ("Experiments", "Experiments: live traffic split between model versions, decided by a sequential test in a workflow "
            + "that guards the candidates and promotes a winner."),
        ("Predictions", "Predictions with a model version: one row, a batch of rows, or through the workflow."),
        ("Feedback", "Ground truth: the true outcomes of predictions, and each version's live outcomes joined from them."),
        ("Batch", "Batch jobs: a workflow that scores a dataset with a model version; results export as CSV or Parquet."),
        ("Jobs", "Processing jobs: long-running workflows that can be paused, resumed, re-parameterised and cancelled."),
        ("Results", "The result history of processing jobs, filtered by job, model and time range, newest first."),
        ("Events", "The durable event log, as CloudEvents: publish, list, read and stream (Server-Sent Events)."),
        ("Webhooks", "Webhooks that receive the event log, their deliveries, redeliveries and replays."),
    ];
}
