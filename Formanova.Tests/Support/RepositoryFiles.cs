namespace Formanova.Tests.Support;

/// <summary>Files of the repository that tests read (docs, deploy): found from the test's output folder upwards.</summary>
internal static class RepositoryFiles
{
    /// <summary>The folder that holds Formanova.sln.</summary>
    public static string Root()
    {
        var start = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        for (var directory = start; directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Formanova.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Formanova.sln not found above the test directory.");
    }
}
