// COMPILE-TIME STAND-INS, NOT VEHICLE PHYSICS PRO. Declarations of only the VPP members that
// P424TelemetrySender uses (names and types as VPP exposes them to project-424-unity), plus setters
// the tests need to drive them. No VPP behaviour is reproduced. Never copy into a Unity project.

using System.Collections.Generic;
using UnityEngine;

namespace VehiclePhysics
{
    public struct Channel
    {
        public const int Input = 0;
        public const int RaceInput = 1;
        public const int Vehicle = 2;
        public const int Settings = 3;
        public const int Custom = 4;
        public const int Count = 5;
    }

    public struct VehicleData
    {
        public const int Speed = 0;
        public const int GearboxGear = 12;
        public const int Max = 26;
    }

    public class DataBus
    {
        readonly int[][] m_data = { new int[10], new int[16], new int[VehicleData.Max], new int[10], new int[100] };

        public int[] Get(int idChannel) { return m_data[idChannel]; }
    }

    public class Telemetry
    {
        public class ChannelInfo
        {
            public string name = "<no name>";
        }

        public class DataRow
        {
            public int frame;
            public double time;
            public double distance;
            public double totalTime;
            public double totalDistance;
            public int segmentNum;
            public int markers;
            public float markerTime;
            public bool markerFlag;
            public bool valuesUpdated;
            public float[] values;
            public bool[] updated;
        }

        public enum Marker { TimeReset = 0, DistanceReset, Reposition, StartLinePass, SectorLinePass, Driver = 8, OffTrack, Contact, Impact, Custom = 16 }

        readonly List<ChannelInfo> m_channels = new List<ChannelInfo>();

        public DataRow latest { get; set; }  // setter: test only
        public IList<ChannelInfo> channels { get { return m_channels; } }

        public int GetChannelIndex(string channelName)
        {
            for (int i = 0; i < m_channels.Count; i++)
                if (m_channels[i].name == channelName)
                    return i;
            return -1;
        }

        public void AddChannel(string name)  // test only: VPP registers channel groups instead
        {
            m_channels.Add(new ChannelInfo { name = name });
        }
    }

    public class VehicleBase : MonoBehaviour
    {
        public enum WheelPos { Left, Right }

        public class WheelState
        {
            public float slipRatio;
            public float slipAngle;
        }

        public DataBus data { get; set; } = new DataBus();
        public Telemetry telemetry { get; set; }
        public float speed { get; set; }
        public Vector3 localAcceleration { get; set; }
        public Vector3 localAngularAcceleration { get; set; }
        public Rigidbody cachedRigidbody { get; set; }
        public WheelState[] wheelState { get; set; }

        // Stand-in wheel layout: axle-major, left then right.
        public int GetWheelIndex(int axle, WheelPos position) { return axle * 2 + (position == WheelPos.Left ? 0 : 1); }
        public int GetAxleCount() { return wheelState == null ? 0 : wheelState.Length / 2; }
    }

    public class VehicleBehaviour : MonoBehaviour
    {
        public VehicleBase vehicle { get; set; }  // setter: test only (VPP assigns it)

        public virtual int GetUpdateOrder() { return 0; }
        public virtual void OnEnableVehicle() { }
        public virtual void OnDisableVehicle() { }
        public virtual void FixedUpdateVehicle() { }
    }
}
