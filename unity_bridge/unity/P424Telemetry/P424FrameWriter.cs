// Protocol-v1 frame encoder for the PERRINN 424 telemetry platform.
// Wire layout: unity_bridge/PROTOCOL.md (the Python reference is p424/codec/frame.py).
//
// Pure C#: no Unity types, so it compiles and is tested outside Unity (unity_bridge/unity/tests).
// Allocation-free after construction: one frame-sized buffer is reused for every datagram.

using System;
using System.Runtime.InteropServices;

namespace Perrinn424.TelemetryBridge
{
    /// <summary>
    /// Encodes one protocol-v1 frame at a time into a preallocated buffer.
    /// Per frame: <see cref="BeginFrame"/>, <see cref="SetValue"/> for each available channel,
    /// then <see cref="WriteHeader"/>; send <see cref="Buffer"/>[0..<see cref="Length"/>).
    /// </summary>
    public sealed class P424FrameWriter
    {
        // Reinterprets a float as its IEEE-754 bits without allocating (BitConverter.SingleToInt32Bits
        // is missing from older Unity/Mono profiles).
        [StructLayout(LayoutKind.Explicit)]
        struct FloatBits
        {
            [FieldOffset(0)] public float Value;
            [FieldOffset(0)] public uint Bits;
        }

        readonly byte[] m_buffer = new byte[P424Catalog.FrameSize];
        int m_presentCount;
        long m_droppedNonFinite;

        public P424FrameWriter()
        {
            BeginFrame();
        }

        /// <summary>The datagram; valid once <see cref="WriteHeader"/> returned true.</summary>
        public byte[] Buffer { get { return m_buffer; } }

        /// <summary>Datagram length in bytes (fixed for a catalog).</summary>
        public int Length { get { return P424Catalog.FrameSize; } }

        /// <summary>Channels present in the current frame.</summary>
        public int PresentCount { get { return m_presentCount; } }

        /// <summary>Values refused since construction because they were NaN or infinite.</summary>
        public long DroppedNonFinite { get { return m_droppedNonFinite; } }

        /// <summary>Marks every channel absent: presence bits clear, values 0.0.</summary>
        public void BeginFrame()
        {
            Array.Clear(m_buffer, P424Catalog.HeaderSize, P424Catalog.FrameSize - P424Catalog.HeaderSize);
            m_presentCount = 0;
        }

        /// <summary>
        /// Sets channel <paramref name="index"/> (a <see cref="P424Channel"/> constant). NaN or an
        /// infinity leaves the channel absent, as decoders reject non-finite values; returns false then.
        /// </summary>
        public bool SetValue(int index, float value)
        {
            if ((uint)index >= P424Catalog.ChannelCount)
                throw new ArgumentOutOfRangeException("index");
            if (float.IsNaN(value) || float.IsInfinity(value))
            {
                if (float.IsInfinity(value))
                    m_droppedNonFinite++;
                ClearValue(index);
                return false;
            }
            FloatBits bits = new FloatBits();
            bits.Value = value;
            WriteU32(P424Catalog.PayloadOffset + 4 * index, bits.Bits);
            int bitmapByte = P424Catalog.HeaderSize + (index >> 3);
            byte mask = (byte)(1 << (index & 7));
            if ((m_buffer[bitmapByte] & mask) == 0)
            {
                m_buffer[bitmapByte] |= mask;
                m_presentCount++;
            }
            return true;
        }

        /// <summary>Makes channel <paramref name="index"/> absent again.</summary>
        public void ClearValue(int index)
        {
            if ((uint)index >= P424Catalog.ChannelCount)
                throw new ArgumentOutOfRangeException("index");
            int bitmapByte = P424Catalog.HeaderSize + (index >> 3);
            byte mask = (byte)(1 << (index & 7));
            if ((m_buffer[bitmapByte] & mask) != 0)
            {
                m_buffer[bitmapByte] &= (byte)~mask;
                m_presentCount--;
            }
            WriteU32(P424Catalog.PayloadOffset + 4 * index, 0u);
        }

        public bool IsPresent(int index)
        {
            return (m_buffer[P424Catalog.HeaderSize + (index >> 3)] & (1 << (index & 7))) != 0;
        }

        /// <summary>
        /// Writes the 48-byte header. Returns false, writing nothing, when the frame would be rejected
        /// by receivers: session id not positive, or a non-finite clock or lap distance.
        /// </summary>
        public bool WriteHeader(ushort carId, long sessionId, uint sequence, double simTime,
                                ushort lap, double lapDistance, uint markers, byte flags)
        {
            if (sessionId <= 0 || double.IsNaN(simTime) || double.IsInfinity(simTime)
                || double.IsNaN(lapDistance) || double.IsInfinity(lapDistance))
                return false;
            m_buffer[0] = (byte)'P';
            m_buffer[1] = (byte)'4';
            m_buffer[2] = (byte)'2';
            m_buffer[3] = (byte)'4';
            m_buffer[4] = P424Catalog.ProtocolVersion;
            m_buffer[5] = flags;
            WriteU16(6, (ushort)P424Catalog.ChannelCount);
            WriteU32(8, P424Catalog.CatalogHash);
            WriteU16(12, carId);
            WriteU16(14, lap);
            WriteU64(16, (ulong)sessionId);
            WriteU32(24, sequence);
            WriteU32(28, markers);
            WriteU64(32, (ulong)BitConverter.DoubleToInt64Bits(simTime));
            WriteU64(40, (ulong)BitConverter.DoubleToInt64Bits(lapDistance));
            return true;
        }

        // Explicit little-endian stores: the wire order must not depend on the host's endianness.

        void WriteU16(int offset, ushort v)
        {
            m_buffer[offset] = (byte)v;
            m_buffer[offset + 1] = (byte)(v >> 8);
        }

        void WriteU32(int offset, uint v)
        {
            m_buffer[offset] = (byte)v;
            m_buffer[offset + 1] = (byte)(v >> 8);
            m_buffer[offset + 2] = (byte)(v >> 16);
            m_buffer[offset + 3] = (byte)(v >> 24);
        }

        void WriteU64(int offset, ulong v)
        {
            WriteU32(offset, (uint)v);
            WriteU32(offset + 4, (uint)(v >> 32));
        }
    }
}
