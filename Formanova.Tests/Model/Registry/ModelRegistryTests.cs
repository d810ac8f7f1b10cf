using Formanova.Modules.Model;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Database;
using Formanova.Modules.Shared.Errors;
using Formanova.Tests.Support;

namespace Formanova.Tests.Model.Registry;

[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class ModelRegistryTests(DatabaseProvider provider)
{
    // A file derived from a version's artifact (its ONNX conversion), kept beside it in the folder and the artifact store.
    private const string DerivedFile = "model.derived.onnx";

    private static readonly byte[] DerivedContent = [1, 2, 3, 4];

    private TestDatabase _db = null!;
    private byte[] _zip = null!;

    [SetUp]
    public async Task SetUp()
    {
        _db = await TestDatabase.CreateAsync(provider);
        _zip = (await ModelTestKit.SmallChurnModel).Zip;
    }

    [TearDown]
    public async Task TearDown()
    {
        if (_db is not null)
        {
            await _db.DisposeAsync();
        }
    }

    [Test]
    public async Task RegisterAsync_WhenItSucceeds_WritesTheSeedLayoutAndTheRow()
    {
        using var registry = await ModelTestKit.RegistryAsync(_db);

        var row = await registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), _zip, default);

        var folder = registry.VersionFolder("churn", "1.0.0");
        Assert.Multiple(() =>
        {
            Assert.That(
                Directory.GetFiles(folder).Select(Path.GetFileName),
                Is.EquivalentTo(new[] { "model.zip", "config.yaml", "metadata.json", "performance_metrics.json" }));
            Assert.That(
                File.ReadAllText(Path.Combine(folder, "config.yaml")),
                Does.Contain("task: BinaryClassification").And.Contain("name: \"churned\""));
            Assert.That(row.VersionStatus, Is.EqualTo(ModelVersionStatus.Registered));
            Assert.That(row.DatasetId, Is.EqualTo("dataset-1"));
            Assert.That(row.Sha256, Has.Length.EqualTo(64));
            Assert.That(Directory.Exists(Path.Combine(registry.Root, ".tmp"))
                ? Directory.GetFileSystemEntries(Path.Combine(registry.Root, ".tmp"))
                : [], Is.Empty);
        });
    }

    [Test]
    public async Task RegisterAsync_WhenItFailsAtAnyStep_LeavesNoVersionAndNoFiles(
        [Values("FilesWritten", "MovedIntoPlace", "ArtifactsStored", "RowInserted")] string stepName,
        [Values("Local", "Database")] string storeName)
    {
        var step = Enum.Parse<RegistrationStep>(stepName);
        using var registry = await ModelTestKit.RegistryAsync(_db, Enum.Parse<ArtifactStoreKind>(storeName));
        registry.AfterStep = s =>
        {
            if (s == step)
            {
                throw new IOException($"simulated crash after {s}");
            }
        };

        Assert.ThrowsAsync<IOException>(() => registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), _zip, default));

        registry.AfterStep = null;
        Assert.Multiple(async () =>
        {
            Assert.That(await registry.ListAsync(null, default), Is.Empty);
            Assert.That(Directory.Exists(registry.VersionFolder("churn", "1.0.0")), Is.False);
            Assert.That(Directory.EnumerateFileSystemEntries(Path.Combine(registry.Root, ".tmp")), Is.Empty);
        });
        var retried = await registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), _zip, default);
        Assert.That(await registry.EnsureLocalAsync(retried, default), Does.EndWith("model.zip"));
    }

    [Test]
    public async Task RecoverAsync_WhenAProcessDiedMidRegistration_RemovesTheLeftoversAndKeepsRegisteredVersions()
    {
        using var registry = await ModelTestKit.RegistryAsync(_db);
        await registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), _zip, default);
        // What a kill -9 leaves: a temporary folder, and a folder renamed into place whose row was never committed.
        Directory.CreateDirectory(Path.Combine(registry.Root, ".tmp", "abc"));
        Directory.CreateDirectory(registry.VersionFolder("churn", "1.1.0"));
        File.WriteAllBytes(Path.Combine(registry.VersionFolder("churn", "1.1.0"), "model.zip"), [1, 2, 3]);
        Directory.CreateDirectory(registry.VersionFolder("orphan", "0.1.0"));

        await registry.RecoverAsync(default);

        Assert.Multiple(() =>
        {
            Assert.That(Directory.Exists(Path.Combine(registry.Root, ".tmp")), Is.False);
            Assert.That(Directory.Exists(registry.VersionFolder("churn", "1.1.0")), Is.False);
            Assert.That(Directory.Exists(Path.Combine(registry.Root, "orphan")), Is.False);
            Assert.That(File.Exists(Path.Combine(registry.VersionFolder("churn", "1.0.0"), "model.zip")), Is.True);
        });
    }

    [Test]
    public async Task RegisterAsync_WhenTheVersionExists_ThrowsConflictAndKeepsTheOriginal()
    {
        using var registry = await ModelTestKit.RegistryAsync(_db);
        var original = await registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), _zip, default);

        var error = Assert.ThrowsAsync<ModuleException>(
            () => registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), [.. _zip, 0], default));

        Assert.Multiple(async () =>
        {
            Assert.That(error!.Kind, Is.EqualTo(ErrorKind.Conflict));
            Assert.That(await registry.EnsureLocalAsync(original, default), Does.EndWith("model.zip"));
        });
    }

    [Test]
    public async Task ActivateAsync_WhenSwitching_KeepsExactlyOneActiveVersion()
    {
        using var registry = await ModelTestKit.RegistryAsync(_db);
        await registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), _zip, default);
        await registry.RegisterAsync(ModelTestKit.Version("churn", "1.1.0"), _zip, default);

        await registry.ActivateAsync("churn", "1.0.0", default);
        await registry.ActivateAsync("churn", "1.1.0", default);

        var rows = await registry.ListAsync("churn", default);
        Assert.Multiple(() =>
        {
            Assert.That(rows.Select(r => r.Version), Is.EqualTo(new[] { "1.1.0", "1.0.0" }), "newest semantic version first");
            Assert.That(rows.Single(r => r.VersionStatus == ModelVersionStatus.Active).Version, Is.EqualTo("1.1.0"));
        });
    }

    [Test]
    public async Task DeleteAsync_WhenVersionIsActive_ThrowsConflictAndOtherwiseRemovesRowFilesAndAliases()
    {
        using var registry = await ModelTestKit.RegistryAsync(_db, ArtifactStoreKind.Database);
        await registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), _zip, default);
        await registry.RegisterAsync(ModelTestKit.Version("churn", "1.1.0"), _zip, default);
        await registry.ActivateAsync("churn", "1.1.0", default);
        await registry.SetAliasAsync("churn", "challenger", "1.0.0", default);

        var error = Assert.ThrowsAsync<ModuleException>(() => registry.DeleteAsync("churn", "1.1.0", default));
        await registry.DeleteAsync("churn", "1.0.0", default);

        Assert.Multiple(async () =>
        {
            Assert.That(error!.Kind, Is.EqualTo(ErrorKind.Conflict));
            Assert.That(await registry.FindAsync("churn", "1.0.0", default), Is.Null);
            Assert.That(await registry.FindAliasAsync("churn", "challenger", default), Is.Null);
            Assert.That(Directory.Exists(registry.VersionFolder("churn", "1.0.0")), Is.False);
        });
    }

    [Test]
    public async Task MarkFailedAsync_WhenActiveFails_ActivatesTheLastStableVersionSkippingFailedAndArchived()
    {
        using var registry = await ModelTestKit.RegistryAsync(_db);
        foreach (var v in new[] { "1.0.0", "1.1.0", "1.2.0", "2.0.0" })
        {
            await registry.RegisterAsync(ModelTestKit.Version("churn", v), _zip, default);
        }

        await registry.ActivateAsync("churn", "1.0.0", default);
        await registry.ActivateAsync("churn", "1.1.0", default);
        await registry.ActivateAsync("churn", "1.2.0", default);
        await registry.ActivateAsync("churn", "2.0.0", default);
        await registry.ArchiveAsync("churn", "1.2.0", default);

        var (failed, active) = await registry.MarkFailedAsync("churn", null, "auc dropped", default);
        var (_, afterSecond) = await registry.MarkFailedAsync("churn", null, "also bad", default);

        Assert.Multiple(() =>
        {
            Assert.That(failed.VersionStatus, Is.EqualTo(ModelVersionStatus.Failed));
            Assert.That(failed.FailureReason, Is.EqualTo("auc dropped"));
            Assert.That(active!.Version, Is.EqualTo("1.1.0"), "1.2.0 is archived, so 1.1.0 was the last stable one");
            Assert.That(afterSecond!.Version, Is.EqualTo("1.0.0"));
        });
        Assert.That(
            Assert.ThrowsAsync<ModuleException>(() => registry.ActivateAsync("churn", "2.0.0", default))!.Kind,
            Is.EqualTo(ErrorKind.Conflict));
    }

    [Test]
    public async Task EnsureLocalAsync_WithDatabaseStoreAndNoLocalCopy_MaterialisesAVerifiedCopy()
    {
        using var registry = await ModelTestKit.RegistryAsync(_db, ArtifactStoreKind.Database);
        var row = await registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), _zip, default);
        // Another instance, or a wiped volume: the local folder is gone, or the zip corrupted.
        Directory.Delete(registry.VersionFolder("churn", "1.0.0"), recursive: true);

        var path = await registry.EnsureLocalAsync(row, default);
        File.WriteAllBytes(path, [1, 2, 3]);
        var repaired = await registry.EnsureLocalAsync(row, default);

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(repaired), Is.EqualTo(_zip));
            Assert.That(File.Exists(Path.Combine(registry.VersionFolder("churn", "1.0.0"), "metadata.json")), Is.True);
        });
    }

    [Test]
    public async Task EnsureLocalAsync_WithLocalStoreAndACorruptZip_ThrowsUnavailable()
    {
        using var registry = await ModelTestKit.RegistryAsync(_db);
        var row = await registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), _zip, default);
        File.WriteAllBytes(Path.Combine(registry.VersionFolder("churn", "1.0.0"), "model.zip"), [1, 2, 3]);

        var error = Assert.ThrowsAsync<ModuleException>(() => registry.EnsureLocalAsync(row, default));

        Assert.That(error!.Kind, Is.EqualTo(ErrorKind.Unavailable));
    }

    [Test]
    public async Task OpenDerivedFileAsync_WhenTheFolderLostItAndTheDatabaseStoreHasIt_ReadsItAndKeepsItInTheFolder()
    {
        using var registry = await ModelTestKit.RegistryAsync(_db, ArtifactStoreKind.Database);
        var row = await registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), _zip, default);
        await registry.SaveDerivedFileAsync(row, DerivedFile, DerivedContent, default);
        var path = Path.Combine(registry.VersionFolder("churn", "1.0.0"), DerivedFile);
        File.Delete(path);

        await using var opened = await registry.OpenDerivedFileAsync(row, DerivedFile, default);

        Assert.Multiple(() =>
        {
            Assert.That(ReadAll(opened), Is.EqualTo(DerivedContent));
            Assert.That(File.ReadAllBytes(path), Is.EqualTo(DerivedContent));
            Assert.That(Directory.EnumerateFileSystemEntries(Path.Combine(registry.Root, ".tmp")), Is.Empty);
        });
    }

    [Test]
    public async Task OpenDerivedFileAsync_WhenNothingWasSaved_IsNull([Values("Local", "Database")] string store)
    {
        using var registry = await ModelTestKit.RegistryAsync(_db, Enum.Parse<ArtifactStoreKind>(store));
        var row = await registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), _zip, default);

        Assert.That(await registry.OpenDerivedFileAsync(row, DerivedFile, default), Is.Null);
    }

    [Test]
    public async Task SaveDerivedFileAsync_WhenTheVersionWasDeletedMeanwhile_KeepsNothing()
    {
        using var registry = await ModelTestKit.RegistryAsync(_db, ArtifactStoreKind.Database);
        var row = await registry.RegisterAsync(ModelTestKit.Version("churn", "1.0.0"), _zip, default);
        await registry.DeleteAsync("churn", "1.0.0", default);

        await registry.SaveDerivedFileAsync(row, DerivedFile, DerivedContent, default);

        Assert.Multiple(async () =>
        {
            Assert.That(Directory.Exists(registry.VersionFolder("churn", "1.0.0")), Is.False);
            Assert.That(await new DatabaseArtifactStore(_db.Database).LoadAsync("churn", "1.0.0", default), Is.Null);
        });
    }

    private static byte[] ReadAll(Stream? stream)
    {
        using var copy = new MemoryStream();
        stream!.CopyTo(copy);
        return copy.ToArray();
    }
}
