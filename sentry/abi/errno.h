// Linux errno values as a strong enum, plus the sentry-internal restart codes.
//
// Invariant: enumerator values equal the x86-64 Linux ABI numbers, so the syscall dispatcher
// turns an Errno into the guest's `-errno` by a plain cast. The internal codes (>= 512) never
// reach the guest: the dispatcher converts or restarts them.
#pragma once

#include <cstdint>
#include <string_view>

namespace sbx {

enum class Errno : int {
  kEPERM = 1, kENOENT = 2, kESRCH = 3, kEINTR = 4, kEIO = 5, kENXIO = 6, kE2BIG = 7,
  kENOEXEC = 8, kEBADF = 9, kECHILD = 10, kEAGAIN = 11, kENOMEM = 12, kEACCES = 13,
  kEFAULT = 14, kENOTBLK = 15, kEBUSY = 16, kEEXIST = 17, kEXDEV = 18, kENODEV = 19,
  kENOTDIR = 20, kEISDIR = 21, kEINVAL = 22, kENFILE = 23, kEMFILE = 24, kENOTTY = 25,
  kETXTBSY = 26, kEFBIG = 27, kENOSPC = 28, kESPIPE = 29, kEROFS = 30, kEMLINK = 31,
  kEPIPE = 32, kEDOM = 33, kERANGE = 34, kEDEADLK = 35, kENAMETOOLONG = 36, kENOLCK = 37,
  kENOSYS = 38, kENOTEMPTY = 39, kELOOP = 40, kENOMSG = 42, kEIDRM = 43, kENOSTR = 60,
  kENODATA = 61, kETIME = 62, kENOSR = 63, kEREMOTE = 66, kENOLINK = 67, kEPROTO = 71,
  kEBADMSG = 74, kEOVERFLOW = 75, kEBADFD = 77, kELIBBAD = 80, kEILSEQ = 84, kEUSERS = 87,
  kENOTSOCK = 88,
  kEDESTADDRREQ = 89, kEMSGSIZE = 90, kEPROTOTYPE = 91, kENOPROTOOPT = 92,
  kEPROTONOSUPPORT = 93, kESOCKTNOSUPPORT = 94, kEOPNOTSUPP = 95, kEPFNOSUPPORT = 96,
  kEAFNOSUPPORT = 97, kEADDRINUSE = 98, kEADDRNOTAVAIL = 99, kENETDOWN = 100,
  kENETUNREACH = 101, kENETRESET = 102, kECONNABORTED = 103, kECONNRESET = 104,
  kENOBUFS = 105, kEISCONN = 106, kENOTCONN = 107, kESHUTDOWN = 108, kETOOMANYREFS = 109,
  kETIMEDOUT = 110, kECONNREFUSED = 111, kEHOSTDOWN = 112, kEHOSTUNREACH = 113,
  kEALREADY = 114, kEINPROGRESS = 115, kESTALE = 116, kEDQUOT = 122, kECANCELED = 125,
  kEOWNERDEAD = 130, kENOTRECOVERABLE = 131,
  // Sentry-internal: never visible to the guest (mirrors include/linux/errno.h).
  kERESTARTSYS = 512, kERESTARTNOINTR = 513, kERESTARTNOHAND = 514,
  kERESTART_RESTARTBLOCK = 516,
  // The handler already set the guest registers (execve, rt_sigreturn): leave rax alone.
  kEJUSTRETURN = 4096,
};

// "ENOENT" for Errno::kENOENT; "E<number>" for values without a name.
std::string_view ErrnoName(Errno e);
// Converts a host errno value (e.g. from a failed host syscall) to an Errno.
inline Errno ErrnoFromHost(int host_errno) { return static_cast<Errno>(host_errno); }

}  // namespace sbx
