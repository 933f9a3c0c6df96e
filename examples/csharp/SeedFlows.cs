// The seeds' WinForms writer and reader flows, in C# on libshm_exchange:
//
//   SeedFlows write-image NAME FILE     the image's bytes with its path (the seeds' ImageToBytes)
//   SeedFlows write-struct NAME         TestData Id=100,Age=20,Scores=60..69 (WriteMemoryWithStruct)
//   SeedFlows read NAME [TIMEOUT_MS [OUT]]
//       prints "ready at frame N", waits for the next frame and shows it as the
//       seeds' reader does: "Path: ..., N bytes" (and saves the image to OUT)
//       or "Id=100,Age=20,Scores=60,...,69". Exit 3 on a timeout.
//   SeedFlows list                      the senders (mappings of this format), one per line
//
// Build with Mono (Debian: mono-mcs, mono-runtime):
//   mcs -out:SeedFlows.exe crates/shm-ffi/bindings/csharp/ShmExchange.cs examples/csharp/SeedFlows.cs
//   LD_LIBRARY_PATH=target/release mono SeedFlows.exe write-struct shm-exchange
using System;
using System.IO;
using ShmExchange;

static class SeedFlows
{
    static int Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "list")
        {
            foreach (string sender in Mapping.ListSenders()) Console.WriteLine(sender);
            return 0;
        }
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: SeedFlows write-image NAME FILE | write-struct NAME | read NAME [TIMEOUT_MS [OUT]] | list");
            return 2;
        }
        try
        {
            switch (args[0])
            {
                case "write-image":
                    using (var mapping = Mapping.CreateOrOpen(args[1]))
                        Console.WriteLine("sent frame " + mapping.SendImageFile(args[2]));
                    return 0;
                case "write-struct":
                    using (var mapping = Mapping.CreateOrOpen(args[1]))
                        Console.WriteLine("sent frame " + mapping.SendTestData(TestData.SeedDefault()));
                    return 0;
                case "read":
                    return Read(args[1], args.Length > 2 ? long.Parse(args[2]) : 5000, args.Length > 3 ? args[3] : null);
                default:
                    Console.Error.WriteLine("unknown command " + args[0]);
                    return 2;
            }
        }
        catch (ShmException e)
        {
            Console.Error.WriteLine("SeedFlows: " + e.Status + ": " + e.Message);
            return e.Status == Status.TimedOut ? 3 : 1;
        }
    }

    static int Read(string name, long timeoutMs, string output)
    {
        using (var mapping = Mapping.OpenExisting(name))
        {
            ulong after = mapping.Info.FrameNumber;
            Console.WriteLine("ready at frame " + after);
            Frame frame = mapping.Wait(after, timeoutMs);
            switch (frame.Kind)
            {
                case Kind.Image:
                    Console.WriteLine("Path: " + frame.Path + ", " + frame.Image.Length + " bytes");
                    if (output != null) File.WriteAllBytes(output, frame.Image);
                    break;
                case Kind.TestData:
                    Console.WriteLine(frame.TestData.ToString());
                    break;
                case Kind.Pixels:
                    Console.WriteLine("Pixels: " + frame.Layout.Width + "x" + frame.Layout.Height + " " + frame.Layout.Format
                        + ", stride " + frame.Layout.StrideBytes + ", " + frame.Pixels.Length + " bytes, " + frame.Path);
                    if (output != null) File.WriteAllBytes(output, frame.Pixels);
                    break;
                default:
                    Console.WriteLine("Kind " + frame.Kind + ", " + frame.Payload.Length + " bytes");
                    break;
            }
            return 0;
        }
    }
}
