namespace LifeOS.Memory;

internal static class TaskWaits
{
    /// <summary>
    /// Waits for a task to end without throwing what it failed with: used where another failure is already the one
    /// to report, and a connection must not be disposed under a read still in flight.
    /// </summary>
    public static async Task WaitQuietly(this Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch
        {
            // The caller's own failure is the one that matters.
        }
    }
}
