// ShmExchange.cs: the C# binding of libshm_exchange (P/Invoke on the C API,
// shm_exchange.h). One file: add it to a project and put libshm_exchange.so
// (or shm_exchange.dll) where the runtime finds native libraries
// (LD_LIBRARY_PATH, next to the program). See docs/C-API.md.
//
// Mapping is IDisposable (closes the handle); Frame is a managed copy of a
// frame (nothing to free). Failures throw ShmException with the library's
// status and message. Threads: a Mapping may be used from several threads.
using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace ShmExchange
{
    /// <summary>The seeds' struct (kind 2), 48 bytes, as the seeds declare it.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    public struct TestData
    {
        public int Id;
        public int Age;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 10)]
        public int[] Scores;

        /// <summary>The seeds' values: Id=100, Age=20, Scores=60..69.</summary>
        public static TestData SeedDefault()
        {
            var data = new TestData { Id = 100, Age = 20, Scores = new int[10] };
            for (int i = 0; i < 10; i++) data.Scores[i] = 60 + i;
            return data;
        }

        /// <summary>"Id=100,Age=20,Scores=60,...,69", as the seeds show it.</summary>
        public override string ToString()
        {
            return "Id=" + Id + ",Age=" + Age + ",Scores=" + string.Join(",", Scores ?? new int[0]);
        }
    }

    public enum Kind : uint { Empty = 0, Image = 1, TestData = 2, Pixels = 3, Object = 4 }

    public enum PixelFormat : uint { Rgba8 = 1, Bgra8 = 2, Rgb8 = 3, Bgr8 = 4, Gray8 = 5 }

    /// <summary>The C API's status codes (ShmStatus).</summary>
    public enum Status
    {
        Ok = 0, InvalidArgument = 1, InvalidHandle = 2, NotFound = 3, AlreadyExists = 4,
        Permission = 5, NotCompatible = 6, NoSpace = 7, TooLarge = 8, BufferTooSmall = 9,
        WriterBusy = 10, TimedOut = 11, Busy = 12, WriterDied = 13, Corrupt = 14,
        WrongKind = 15, Abandoned = 16, Io = 17, Internal = 18,
    }

    /// <summary>A failed call: the status and what was wrong and what to do.</summary>
    public class ShmException : Exception
    {
        public Status Status { get; }
        public ShmException(Status status, string message) : base(message) { Status = status; }
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PixelLayout
    {
        public uint Width;
        public uint Height;
        public uint StrideBytes; // 0: rows without padding
        public PixelFormat Format;
        public ulong CaptureUnixNanos; // 0: unknown
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct FrameInfo
    {
        public ulong FrameNumber;
        public Kind Kind;
        public uint WriterPid;
        public ulong WrittenUnixNanos;
        public ulong PayloadLenBytes;
        public uint CrcChecked;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MappingInfo
    {
        public ulong MappingLenBytes;
        public ulong PayloadCapacityBytes;
        public ulong FrameNumber;
        public uint Created;
    }

    /// <summary>A frame copied out of a mapping; the fields of its kind are set.</summary>
    public sealed class Frame
    {
        public FrameInfo Info;
        public ulong Number { get { return Info.FrameNumber; } }
        public Kind Kind { get { return Info.Kind; } }
        /// <summary>Image records and pixels: the sender's path.</summary>
        public string Path;
        /// <summary>Image records: the encoded file's bytes.</summary>
        public byte[] Image;
        /// <summary>Pixels: the layout and stride * height bytes of rows.</summary>
        public PixelLayout Layout;
        public byte[] Pixels;
        /// <summary>TestData frames.</summary>
        public TestData TestData;
        /// <summary>Every kind: the payload bytes as sent.</summary>
        public byte[] Payload;
    }

    internal static class Native
    {
        const string Lib = "shm_exchange";

        [StructLayout(LayoutKind.Sequential)]
        internal struct ImageRecord { public IntPtr Path; public UIntPtr PathLen; public IntPtr Image; public UIntPtr ImageLen; }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Pixels { public PixelLayout Layout; public IntPtr Data; public UIntPtr DataLen; public IntPtr Path; public UIntPtr PathLen; }

        [DllImport(Lib)] internal static extern IntPtr shm_library_version();
        [DllImport(Lib)] internal static extern IntPtr shm_last_error_message();
        [DllImport(Lib)] internal static extern int shm_mapping_create_new(byte[] name, ulong len, out IntPtr mapping);
        [DllImport(Lib)] internal static extern int shm_mapping_create_or_open(byte[] name, ulong len, out IntPtr mapping);
        [DllImport(Lib)] internal static extern int shm_mapping_open_existing(byte[] name, out IntPtr mapping);
        [DllImport(Lib)] internal static extern int shm_mapping_from_file(byte[] path, ulong len, out IntPtr mapping);
        [DllImport(Lib)] internal static extern int shm_mapping_close(IntPtr mapping);
        [DllImport(Lib)] internal static extern int shm_mapping_info(IntPtr mapping, out MappingInfo info);
        [DllImport(Lib)] internal static extern int shm_mapping_send_image(IntPtr mapping, byte[] path, byte[] image, UIntPtr len, out ulong frame);
        [DllImport(Lib)] internal static extern int shm_mapping_send_image_file(IntPtr mapping, byte[] filePath, out ulong frame);
        [DllImport(Lib)] internal static extern int shm_mapping_send_test_data(IntPtr mapping, ref TestData data, out ulong frame);
        [DllImport(Lib)] internal static extern int shm_mapping_send_pixels(IntPtr mapping, ref PixelLayout layout, byte[] pixels, UIntPtr len, byte[] path, out ulong frame);
        [DllImport(Lib)] internal static extern int shm_mapping_receive(IntPtr mapping, out IntPtr frame);
        [DllImport(Lib)] internal static extern int shm_mapping_wait(IntPtr mapping, ulong after, long timeoutMs, out IntPtr frame);
        [DllImport(Lib)] internal static extern int shm_frame_free(IntPtr frame);
        [DllImport(Lib)] internal static extern int shm_frame_info(IntPtr frame, out FrameInfo info);
        [DllImport(Lib)] internal static extern int shm_frame_payload(IntPtr frame, out IntPtr data, out UIntPtr len);
        [DllImport(Lib)] internal static extern int shm_frame_image(IntPtr frame, out ImageRecord record);
        [DllImport(Lib)] internal static extern int shm_frame_pixels(IntPtr frame, out Pixels pixels);
        [DllImport(Lib)] internal static extern int shm_frame_test_data(IntPtr frame, out TestData data);
        [DllImport(Lib)] internal static extern int shm_list_senders(byte[] buf, UIntPtr len, out UIntPtr needed);

        /// <summary>NUL-terminated UTF-8 (null stays null: "none" in the C API).</summary>
        internal static byte[] Utf8Z(string text)
        {
            if (text == null) return null;
            var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
            Encoding.UTF8.GetBytes(text, 0, text.Length, bytes, 0);
            return bytes;
        }

        internal static string Utf8(IntPtr ptr, ulong len)
        {
            return Encoding.UTF8.GetString(Copy(ptr, len));
        }

        internal static byte[] Copy(IntPtr ptr, ulong len)
        {
            var bytes = new byte[checked((int)len)];
            if (len > 0) Marshal.Copy(ptr, bytes, 0, bytes.Length);
            return bytes;
        }

        internal static string CString(IntPtr ptr)
        {
            int len = 0;
            while (Marshal.ReadByte(ptr, len) != 0) len++;
            return Utf8(ptr, (ulong)len);
        }

        /// <summary>Throws the library's error for a status other than SHM_OK.</summary>
        internal static void Check(int status)
        {
            if (status != 0) throw new ShmException((Status)status, CString(shm_last_error_message()));
        }
    }

    /// <summary>An open mapping, like .NET's MemoryMappedFile but carrying frames.</summary>
    public sealed class Mapping : IDisposable
    {
        public const long DefaultCapacity = 10 * 1024 * 1024;
        IntPtr handle;

        Mapping(IntPtr handle) { this.handle = handle; }

        public static string LibraryVersion { get { return Native.CString(Native.shm_library_version()); } }

        /// <summary>Opens NAME, creating it with `capacity` bytes in all (header included) if missing.</summary>
        public static Mapping CreateOrOpen(string name, long capacity = DefaultCapacity)
        {
            IntPtr h;
            Native.Check(Native.shm_mapping_create_or_open(Native.Utf8Z(name), (ulong)capacity, out h));
            return new Mapping(h);
        }

        public static Mapping CreateNew(string name, long capacity = DefaultCapacity)
        {
            IntPtr h;
            Native.Check(Native.shm_mapping_create_new(Native.Utf8Z(name), (ulong)capacity, out h));
            return new Mapping(h);
        }

        public static Mapping OpenExisting(string name)
        {
            IntPtr h;
            Native.Check(Native.shm_mapping_open_existing(Native.Utf8Z(name), out h));
            return new Mapping(h);
        }

        public static Mapping CreateFromFile(string path, long capacity = DefaultCapacity)
        {
            IntPtr h;
            Native.Check(Native.shm_mapping_from_file(Native.Utf8Z(path), (ulong)capacity, out h));
            return new Mapping(h);
        }

        IntPtr Handle
        {
            get
            {
                if (handle == IntPtr.Zero) throw new ObjectDisposedException("Mapping");
                return handle;
            }
        }

        public MappingInfo Info
        {
            get { MappingInfo info; Native.Check(Native.shm_mapping_info(Handle, out info)); return info; }
        }

        /// <summary>An image record: `path` and the image file's bytes. Returns the frame number.</summary>
        public ulong SendImage(string path, byte[] image)
        {
            ulong n;
            Native.Check(Native.shm_mapping_send_image(Handle, Native.Utf8Z(path), image, (UIntPtr)(ulong)image.LongLength, out n));
            return n;
        }

        /// <summary>The file's bytes with its absolute path, as the seeds' writer sends them.</summary>
        public ulong SendImageFile(string filePath)
        {
            ulong n;
            Native.Check(Native.shm_mapping_send_image_file(Handle, Native.Utf8Z(filePath), out n));
            return n;
        }

        public ulong SendTestData(TestData data)
        {
            if (data.Scores == null || data.Scores.Length != 10)
                throw new ArgumentException("TestData.Scores must hold 10 values");
            ulong n;
            Native.Check(Native.shm_mapping_send_test_data(Handle, ref data, out n));
            return n;
        }

        public ulong SendPixels(PixelLayout layout, byte[] pixels, string path = null)
        {
            ulong n;
            Native.Check(Native.shm_mapping_send_pixels(Handle, ref layout, pixels, (UIntPtr)(ulong)pixels.LongLength, Native.Utf8Z(path), out n));
            return n;
        }

        /// <summary>The newest frame (Kind.Empty, number 0, if none was written).</summary>
        public Frame Receive()
        {
            IntPtr f;
            Native.Check(Native.shm_mapping_receive(Handle, out f));
            return Take(f);
        }

        /// <summary>The newest frame once it is another than `afterFrameNumber`
        /// (the last one read; 0: any); ShmException (Status.TimedOut) after
        /// `timeoutMs` (-1: wait forever).</summary>
        public Frame Wait(ulong afterFrameNumber, long timeoutMs)
        {
            IntPtr f;
            Native.Check(Native.shm_mapping_wait(Handle, afterFrameNumber, timeoutMs, out f));
            return Take(f);
        }

        /// <summary>The names of the mappings of this format in /dev/shm.</summary>
        public static string[] ListSenders()
        {
            while (true)
            {
                UIntPtr needed;
                int status = Native.shm_list_senders(null, UIntPtr.Zero, out needed);
                if (status != (int)Status.BufferTooSmall) Native.Check(status);
                var buf = new byte[(int)needed];
                status = Native.shm_list_senders(buf, (UIntPtr)buf.Length, out needed);
                if (status == (int)Status.BufferTooSmall) continue;
                Native.Check(status);
                // `needed` from this call: the list may have shrunk since the first.
                string text = Encoding.UTF8.GetString(buf, 0, (int)(ulong)needed - 1);
                return text.Split(new[] { '\n' }, StringSplitOptions.RemoveEmptyEntries);
            }
        }

        /// <summary>Copies the frame behind `f` into managed memory and frees it.</summary>
        static Frame Take(IntPtr f)
        {
            try
            {
                var frame = new Frame();
                Native.Check(Native.shm_frame_info(f, out frame.Info));
                IntPtr data;
                UIntPtr len;
                Native.Check(Native.shm_frame_payload(f, out data, out len));
                frame.Payload = Native.Copy(data, (ulong)len);
                switch (frame.Kind)
                {
                    case Kind.Image:
                        Native.ImageRecord r;
                        Native.Check(Native.shm_frame_image(f, out r));
                        frame.Path = Native.Utf8(r.Path, (ulong)r.PathLen);
                        frame.Image = Native.Copy(r.Image, (ulong)r.ImageLen);
                        break;
                    case Kind.Pixels:
                        Native.Pixels p;
                        Native.Check(Native.shm_frame_pixels(f, out p));
                        frame.Layout = p.Layout;
                        frame.Pixels = Native.Copy(p.Data, (ulong)p.DataLen);
                        frame.Path = Native.Utf8(p.Path, (ulong)p.PathLen);
                        break;
                    case Kind.TestData:
                        Native.Check(Native.shm_frame_test_data(f, out frame.TestData));
                        break;
                }
                return frame;
            }
            finally
            {
                Native.shm_frame_free(f);
            }
        }

        public void Dispose()
        {
            Close();
            GC.SuppressFinalize(this);
        }

        /// <summary>A Mapping never disposed is closed when collected.</summary>
        ~Mapping() { Close(); }

        void Close()
        {
            IntPtr h = System.Threading.Interlocked.Exchange(ref handle, IntPtr.Zero);
            if (h != IntPtr.Zero) Native.shm_mapping_close(h);
        }
    }
}
