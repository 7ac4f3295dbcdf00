@echo off
rem Install the API Sync scheduled tasks (Windows Task Scheduler), for the current user:
rem   - "API Sync\api_sync_cron": api_sync_cron.py every hour (it syncs only the integrations that are due);
rem   - "API Sync\sku_analysis_cron": sku_analysis_cron.py every 8 hours from 01:00 (01:00, 09:00, 17:00).
rem
rem Usage: cron_setup.bat            create or update the two tasks (run it again at will: /F replaces them)
rem        cron_setup.bat --print    show the commands, change nothing
rem        cron_setup.bat --remove   delete the two tasks
rem The python used is %PYTHON% if set, else the first python on PATH: activate the project's virtualenv
rem first. Run from an Administrator prompt if the tasks must run while you are logged off.
rem Logs: logs\api_sync_cron.log and logs\sku_analysis_cron.log; a crash before logging starts lands in
rem logs\cron_errors.log.
setlocal EnableExtensions

set "MODE="
if "%~1"=="" set "MODE=install"
if /I "%~1"=="--print" set "MODE=print"
if /I "%~1"=="--remove" set "MODE=remove"
if not defined MODE goto :usage

rem The folder of this script, without its trailing backslash.
set "REPO=%~dp0"
if "%REPO:~-1%"=="\" set "REPO=%REPO:~0,-1%"

set "TASK_API=API Sync\api_sync_cron"
set "TASK_SKU=API Sync\sku_analysis_cron"

if "%MODE%"=="remove" goto :remove

rem The interpreter itself, by absolute path: the task runs without the virtualenv activated.
if not defined PYTHON set "PYTHON=python"
set "PY="
for /f "usebackq delims=" %%P in (`call "%PYTHON%" -c "import sys; print(sys.executable)" 2^>nul`) do set "PY=%%P"
if not defined PY goto :nopython

rem Each task runs cmd /c: it starts in the project folder (where .env and the logs folder are), runs the
rem script with --json and drops its console output (the scripts log to files themselves); only errors
rem from before logging starts go to logs\cron_errors.log. In the /TR value the backslash-quotes are quotes
rem of the task's own command line; the chaining and redirections between them are part of that line.
if "%MODE%"=="print" goto :print

if not exist "%REPO%\logs" mkdir "%REPO%\logs"
schtasks /Create /F /TN "%TASK_API%" /SC HOURLY /MO 1 /ST 00:00 /TR "cmd /c cd /d \"%REPO%\" && \"%PY%\" api_sync_cron.py --json >nul 2>>logs\cron_errors.log"
if errorlevel 1 goto :failed
schtasks /Create /F /TN "%TASK_SKU%" /SC HOURLY /MO 8 /ST 01:00 /TR "cmd /c cd /d \"%REPO%\" && \"%PY%\" sku_analysis_cron.py --json >nul 2>>logs\cron_errors.log"
if errorlevel 1 goto :failed
echo Installed the API Sync scheduled tasks for %REPO% (python: %PY%).
echo Check with: schtasks /Query /TN "%TASK_API%"  and  schtasks /Query /TN "%TASK_SKU%"
exit /b 0

:print
echo schtasks /Create /F /TN "%TASK_API%" /SC HOURLY /MO 1 /ST 00:00 /TR "cmd /c cd /d \"%REPO%\" && \"%PY%\" api_sync_cron.py --json >nul 2>>logs\cron_errors.log"
echo schtasks /Create /F /TN "%TASK_SKU%" /SC HOURLY /MO 8 /ST 01:00 /TR "cmd /c cd /d \"%REPO%\" && \"%PY%\" sku_analysis_cron.py --json >nul 2>>logs\cron_errors.log"
exit /b 0

:remove
schtasks /Delete /F /TN "%TASK_API%" >nul 2>&1
schtasks /Delete /F /TN "%TASK_SKU%" >nul 2>&1
echo Removed the API Sync scheduled tasks.
exit /b 0

:usage
echo error: unknown option %1 1>&2
echo usage: cron_setup.bat [--print ^| --remove] 1>&2
exit /b 2

:nopython
echo error: cannot run %PYTHON%; activate the project's virtualenv or set PYTHON=C:\path\to\python.exe 1>&2
exit /b 2

:failed
echo error: schtasks could not create the task; try again from an Administrator prompt. 1>&2
exit /b 1
