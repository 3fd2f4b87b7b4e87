// COMPILE-TIME STAND-INS, NOT THE SIMULATOR. The project-424-unity types P424TelemetrySender uses:
// the custom data bus ids of Perrinn424Data (values as the simulator assigns them) and the car
// controller type. Never copy into a Unity project (the real ones live in Perrinn424CarController.cs).

using VehiclePhysics;

public struct Perrinn424Data
{
    public const int ThrottleInput = 0;
    public const int BrakePressure = 1;
    public const int SteeringWheelAngle = 2;
    public const int DrsPosition = 3;
    public const int FrontRideHeight = 10;
    public const int FrontRollAngle = 11;
    public const int RearRideHeight = 12;
    public const int RearRollAngle = 13;
    public const int FrontMguBase = 20;
    public const int RearMguBase = 30;
    public const int Rpm = 0;
    public const int Efficiency = 2;
    public const int ElectricalPower = 3;
    public const int MechanicalTorque = 5;
    public const int RotorTorque = 7;
}

public class Perrinn424CarController : VehicleBase { }
